"""Reference architectures, registered by name (one ``*_arch.py`` file per family, as in BasicSR).

Submissions in ``safetensors`` format name an architecture from this registry; its code is ours,
never the submission's. Every ``*_arch.py`` file in this folder is imported here, so its
``@register_model`` factories are registered without being listed anywhere else.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from bench.models.registry import MODELS, ModelSpec, build_model, register_model


def scan_architectures(folder: Path, package: str) -> list[str]:
    """Import every ``*_arch.py`` module of ``folder`` (the package ``package``), in name order; returns their names."""
    modules = [f"{package}.{path.stem}" for path in sorted(folder.glob("*_arch.py"))]
    for module in modules:
        importlib.import_module(module)
    return modules


ARCH_MODULES = scan_architectures(Path(__file__).parent, __name__)

__all__ = ["ARCH_MODULES", "MODELS", "ModelSpec", "build_model", "register_model", "scan_architectures"]
