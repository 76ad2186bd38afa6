"""Reference architectures, registered by name (one ``*_arch.py`` file per family, as in BasicSR).

Submissions in ``safetensors`` format name an architecture from this registry; its code is ours,
never the submission's. Every ``*_arch.py`` file in this folder is imported here, so its
``@register_model`` factories are registered without being listed anywhere else.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from bench.models.registry import MODELS, ModelSpec, build_model, register_model


def scan_architectures(folder: Path, package: str) -> list[str]:
    """Import every ``*_arch.py`` module of ``folder`` (the package ``package``), in name order; returns their names."""
    modules = [f"{package}.{path.stem}" for path in sorted(folder.glob("*_arch.py"))]
    for module in modules:
        importlib.import_module(module)
    return modules


ARCH_MODULES = scan_architectures(Path(__file__).parent, __name__)
MODULES_ENV = "BENCH_MODEL_MODULES"


def import_extra_architectures() -> list[str]:
    """Import the modules named in ``$BENCH_MODEL_MODULES`` (comma-separated): architectures of the scorer's
    own side (a lab's private registry, the test suite's), inherited by the sandboxed children. Never
    anything named by a submission."""
    names = [n.strip() for n in os.environ.get(MODULES_ENV, "").split(",") if n.strip()]
    for name in names:
        importlib.import_module(name)
    return names


EXTRA_MODULES = import_extra_architectures()

__all__ = ["ARCH_MODULES", "MODELS", "ModelSpec", "build_model", "register_model", "scan_architectures"]
