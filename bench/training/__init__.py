"""``bench train``: reference models trained from YAML recipes (see ``docs/training.md``).

The training path imports only torch, numpy, Pillow, pydantic, PyYAML, safetensors, rich (for the
progress bar, optional) and bench's own data, metric and model modules, so it runs on a bare GPU
machine with ``PYTHONPATH=. python3 -m bench.training RECIPE``.
"""

from __future__ import annotations

from bench.data.images import ImageReadError
from bench.data.sources import DataNotFound
from bench.registry import UnknownName
from bench.tasks import TaskError
from bench.training.checkpoint import CheckpointError
from bench.training.data import TrainingDataError
from bench.training.loop import TrainingError, TrainOptions, TrainResult, train
from bench.training.recipe import Recipe, RecipeError, load_recipe

TRAINING_ERRORS = (RecipeError, TrainingError, CheckpointError, TrainingDataError, TaskError, DataNotFound,
                   ImageReadError, UnknownName)  # fmt: skip
"""What a user can cause (a bad recipe, missing data, an existing run): reported in one paragraph, exit 2."""

__all__ = ["TRAINING_ERRORS", "Recipe", "RecipeError", "TrainOptions", "TrainResult", "TrainingError", "load_recipe",
           "train"]  # fmt: skip
