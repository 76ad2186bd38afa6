"""``bench train``: reference models trained from YAML recipes (see ``docs/training.md``).

The training path imports only torch, numpy, Pillow, pydantic, PyYAML, safetensors, rich (for the
progress bar, optional) and bench's own data, metric and model modules, so it runs on a bare GPU
machine with ``PYTHONPATH=. python3 -m bench.training RECIPE``.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module, imported on first use: the CLI reads this package's argument definitions
# (bench.training.command) without loading torch
_EXPORTS = {
    "Recipe": "recipe",
    "RecipeError": "recipe",
    "load_recipe": "recipe",
    "TrainOptions": "loop",
    "TrainResult": "loop",
    "TrainingError": "loop",
    "train": "loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bench.training.{_EXPORTS[name]}"), name)
