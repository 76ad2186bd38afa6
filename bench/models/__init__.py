"""Reference architectures, registered by name (one ``*_arch.py`` file per family, as in BasicSR).

Submissions in ``safetensors`` format name an architecture from this registry; its code is ours,
never the submission's.
"""

from bench.models import (  # noqa: F401  (each registers its architectures)
    deblur_arch,
    denoise_arch,
    inpaint_arch,
    interp_arch,
    lowlight_arch,
    nas_arch,
    portable_arch,
    pruned_arch,
    sr_arch,
)
from bench.models.registry import MODELS, ModelSpec, build_model, register_model

__all__ = ["MODELS", "ModelSpec", "build_model", "register_model"]
