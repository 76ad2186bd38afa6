"""Training recipes: a YAML file validated by pydantic (unknown keys rejected), then checked against the registries.

A recipe names a task (whose degradation turns clean training crops into model inputs, and whose
scale and colour the model follows), an architecture from the project's registry, the training
data and patch sampling, loss, optimiser, schedule, seed, and an optional validation task scored
with the project's own metric code. See ``docs/training.md`` for every field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from bench.data.degradations import DEGRADATIONS
from bench.definitions import Strict, explain, validated
from bench.errors import RecipeError
from bench.models import MODELS, build_model
from bench.paths import CHECKOUT
from bench.registry import UnknownName
from bench.submission import Architecture
from bench.tasks import Task, TaskError, get_task

TRAIN_DATA_ENV = "BENCH_TRAIN_DATA"
DEFAULT_TRAIN_DATA = "../shared/datasets/CSun_Hays80"
RECIPES_DIR = CHECKOUT / "recipes"


class DegradationSpec(Strict):
    name: str = Field(description="a registered degradation, e.g. low-light-raw")
    params: dict[str, float | int | str] = Field(default_factory=dict)


class Augmentation(Strict):
    hflip: bool = True
    vflip: bool = True
    rot90: bool = Field(True, description="transpose H and W with probability 1/2 (with the flips: all 8 rotations)")


class DataSpec(Strict):
    folder: str | None = Field(
        None,
        description=f"folder of clean training images; relative paths are resolved against the checkout; "
        f"default ${TRAIN_DATA_ENV}, else {DEFAULT_TRAIN_DATA}",
    )
    patch_size: int = Field(
        ge=4, description="model-input patch size; the clean crop is patch_size x the input/target ratio"
    )
    batch_size: int = Field(ge=1)
    augmentation: Augmentation = Field(default_factory=Augmentation)
    prescale: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="downscale every training photo once by this factor (MATLAB bicubic, antialiased) before "
        "cropping: it averages away the JPEG blocking and noise of photos, so the targets are cleaner; "
        "none keeps them as they are",
    )
    patches_per_epoch: int = Field(
        1000, ge=1, description="one epoch visits every image equally often, in a seeded order"
    )
    degradation: DegradationSpec | None = Field(
        None, description="replaces the task's degradation (e.g. a raw variant)"
    )
    workers: int | None = Field(
        None, ge=0, description="data-loader processes; default 0 on CPU, CPUs - 1 (at most 16) on CUDA"
    )


class InitSpec(Strict):
    weights: str = Field(
        description="a .safetensors file or a submission folder; relative paths resolve against the checkout"
    )
    match: Literal["all", "matching"] = Field(
        "all", description="all: every tensor must fit; matching: copy the tensors whose name and shape match"
    )


class OptimizerSpec(Strict):
    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(None, gt=0, description="clip the global gradient norm to this value")


class ScheduleSpec(Strict):
    steps: int = Field(ge=1, description="optimiser steps in the whole run")
    kind: Literal["cosine", "step", "constant"] = "cosine"
    milestones: list[int] = Field(
        default_factory=list, description="kind step: multiply the lr by gamma at these steps"
    )
    gamma: float = Field(0.5, gt=0)
    warmup_steps: int = Field(0, ge=0, description="linear warm-up from lr / warmup_steps")
    min_lr: float = Field(0.0, ge=0, description="kind cosine: the lr at the last step")

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleSpec:
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be below steps ({self.steps})")
        if self.kind == "step" and not self.milestones:
            raise ValueError("kind step needs milestones")
        if self.milestones != sorted(set(self.milestones)) or any(not 0 < m < self.steps for m in self.milestones):
            raise ValueError(
                f"milestones must be increasing steps between 1 and {self.steps - 1}, got {self.milestones}"
            )
        return self


class ValidationSpec(Strict):
    task: str = Field(description="task whose first `images` samples are scored with its own metric protocol")
    images: int = Field(5, ge=1)
    every: int = Field(1000, ge=1, description="steps between validations (and one at the end)")


class ExportSpec(Strict):
    name: str | None = Field(None, description="submission name; default the recipe name")
    team: str = "bench reference models"
    tasks: list[str] = Field(default_factory=list, description="task ids or patterns it declares; default [task]")
    tags: list[str] = Field(default_factory=list)
    derived_from: str | None = None
    licence: str = "Apache-2.0"
    description: str = ""


class Recipe(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    task: str = Field(description="task id: its degradation makes the training inputs, its scale the model's")
    architecture: Architecture  # the same {name, args} as a submission manifest
    init: InitSpec | None = Field(None, description="start from these weights instead of the architecture's init")
    data: DataSpec
    loss: Literal["l1", "l2", "charbonnier"] = "l1"
    loss_space: Literal["rgb", "y"] = Field(
        "rgb", description="y: the loss compares MATLAB luma (BT.601, [16, 235] / 255) of output and target"
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec
    seed: int = Field(0, ge=0)
    validation: ValidationSpec | None = None
    checkpoint_every: int = Field(1000, ge=1)
    log_every: int = Field(50, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16: autocast (weights stay fp32), on CUDA or a CPU with native bf16 (AVX512-BF16/AMX)"
    )
    memory_format: Literal["contiguous", "channels_last"] = Field(
        "contiguous", description="channels_last: batches in NHWC order, oneDNN's fast conv layout on CPU"
    )
    export: ExportSpec = Field(default_factory=ExportSpec)

    def with_overrides(self, **changes: Any) -> Recipe:
        """A copy with top-level fields, or ``schedule.steps`` as ``steps``, replaced (None: unchanged)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        steps = changes.pop("steps", None)
        recipe = self.model_copy(update=changes)
        if steps is not None:
            recipe = recipe.model_copy(update={"schedule": self.schedule.model_copy(update={"steps": int(steps)})})
        try:
            return Recipe.model_validate(recipe.model_dump())  # re-validate the combination
        except ValidationError as exc:
            given = ", ".join(f"{k}={v}" for k, v in {"steps": steps, **changes}.items() if v is not None)
            raise RecipeError(f"recipe {self.name} with {given}: {explain(exc)}") from exc

    def training_task(self) -> Task:
        return get_task(self.task)

    def degradation(self) -> tuple[str, dict[str, Any]]:
        """The (name, params) applied to training crops: the recipe's override, else the task's."""
        if self.data.degradation is not None:
            return self.data.degradation.name, dict(self.data.degradation.params)
        task = self.training_task()
        assert task.degradation is not None  # checked by check_recipe
        return task.degradation.name, dict(task.degradation.params)


def training_folder(recipe: Recipe, override: str | Path | None = None) -> Path:
    """Where the clean training images are: ``override``, the recipe's folder, ``$BENCH_TRAIN_DATA``, the default."""
    chosen = override or recipe.data.folder or os.environ.get(TRAIN_DATA_ENV) or DEFAULT_TRAIN_DATA
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else (CHECKOUT / path).resolve()


def check_recipe(recipe: Recipe, where: str = "recipe") -> Recipe:
    """Check what the schema cannot: task ids, degradation and architecture names, architecture arguments."""
    try:
        task = recipe.training_task()
        if recipe.validation is not None:
            get_task(recipe.validation.task)
    except TaskError as exc:
        raise RecipeError(f"{where}: {exc}") from None
    if recipe.data.degradation is not None:
        try:
            DEGRADATIONS.check(recipe.data.degradation.name)
        except UnknownName as exc:
            raise RecipeError(f"{where}: data.degradation: {exc}") from None
    elif task.degradation is None:
        raise RecipeError(
            f"{where}: task {task.id!r} reads its inputs from files (source {task.data.source!r}), so it cannot make "
            "training pairs from clean photos; pick a task with a degradation or set data.degradation"
        )
    try:
        MODELS.check(recipe.architecture.name)
        build_model(recipe.architecture.name, recipe.architecture.args, {"scale": task.scale})
    except (UnknownName, ValueError) as exc:
        raise RecipeError(f"{where}: architecture: {exc}") from None
    if recipe.loss_space == "y" and task.data.colour == "grey":
        raise RecipeError(f"{where}: loss_space y needs an RGB task; {task.id!r} is greyscale (its loss is on grey)")
    return recipe


def parse_recipe(raw: Any, where: str = "recipe") -> Recipe:
    """Validate a recipe given as a mapping (e.g. parsed YAML)."""
    return check_recipe(validated(raw, Recipe, RecipeError, where), where)


def load_recipe(path: str | Path) -> Recipe:
    """Read, validate and check a recipe YAML file, or a recipe shipped in ``recipes/`` by name."""
    path = Path(path)
    if not path.is_file() and path.suffix == "" and (RECIPES_DIR / f"{path.name}.yaml").is_file():
        path = RECIPES_DIR / f"{path.name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise RecipeError(f"recipe file not found: {path} (shipped recipes, usable by name: {shipped or 'none'})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path} is not valid YAML: {exc}") from None
    return parse_recipe(raw, f"recipe {path}")
