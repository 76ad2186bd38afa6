"""Task schema (pydantic, unknown keys rejected) and the registry that loads ``tasks/*.yaml``.

A task is data, not code: which images, which degradation makes the model input, the metric
protocol in full, the latency input shape, the published reference numbers, and a version that
changes whenever any of that changes (results of different versions are never compared).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

import bench.data  # noqa: F401  (registers every source layout)
from bench.data.degradations import DEGRADATIONS
from bench.data.sources import SOURCES
from bench.definitions import Strict, load_definition, load_folder
from bench.errors import TaskError
from bench.metrics.spec import MetricSpec
from bench.paths import TASKS_DIR
from bench.registry import Registry, UnknownName

TASKS_DIR_ENV = "BENCH_TASKS_DIR"
TaskKind = Literal["sr", "deblur", "lowlight", "denoise", "inpaint"]


def _registered(registry: Registry[Any], value: str) -> str:
    try:
        return registry.check(value)
    except UnknownName as exc:
        raise ValueError(str(exc)) from None


SourceName = Annotated[str, AfterValidator(lambda value: _registered(SOURCES, value))]
DegradationName = Annotated[str, AfterValidator(lambda value: _registered(DEGRADATIONS, value))]


class DataSpec(Strict):
    source: SourceName = Field(description="registered source layout, e.g. image-folder, gopro, reds")
    path: str = Field(description="folder relative to the data root, e.g. Set5/HR or GOPRO_Large/test")
    embedded: str | None = Field(None, description="folder of the copy shipped in the package, if any")
    colour: Literal["rgb", "grey"] = Field("rgb", description="grey: images are read as one channel")
    options: dict[str, Any] = Field(default_factory=dict, description="source-specific settings (see the source)")
    limit: int | None = Field(None, ge=1, description="use only the first N samples (in index order)")


class DegradationSpec(Strict):
    name: DegradationName
    params: dict[str, float | int | str] = Field(default_factory=dict)


class LatencySpec(Strict):
    input_shape: tuple[int, int, int, int] = Field(description="N, C, H, W of the timing input")


class Reference(Strict):
    method: str
    psnr: float
    ssim: float | None = None
    source: str
    note: str | None = None


class Task(Strict):
    id: str
    version: int = Field(ge=1)
    kind: TaskKind
    title: str
    description: str = ""
    scale: int | None = Field(None, ge=1, description="SR factor (sr tasks only)")
    output_scale: int | None = Field(
        None, ge=2, description="output size / input size of a non-SR task whose model upsamples (SID packed raw: 2)"
    )
    seed: int = 0
    data: DataSpec
    degradation: DegradationSpec | None = Field(
        None, description="how the input is made from the clean image; none for paired data sets"
    )
    metric: MetricSpec
    latency: LatencySpec
    references: list[Reference] = Field(default_factory=list)
    demo: bool = Field(False, description="part of `bench demo` (runs on embedded data)")

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if (self.kind == "sr") != (self.scale is not None):
            raise ValueError("sr tasks must set scale, and only sr tasks may")
        if self.kind == "sr" and self.output_scale is not None:
            raise ValueError("sr tasks give their size ratio as scale, not output_scale")
        if self.demo and self.data.embedded is None:
            raise ValueError("a demo task must have embedded data")
        paired = SOURCES[self.data.source].paired
        if paired and self.degradation is not None:
            raise ValueError(f"source {self.data.source!r} provides the model input; remove 'degradation'")
        if not paired and self.degradation is None:
            raise ValueError(f"source {self.data.source!r} gives clean images only; the task needs a 'degradation'")
        return self

    @property
    def input_channels(self) -> int:
        return self.latency.input_shape[1]

    @property
    def size_ratio(self) -> int:
        """Output size / input size: the SR scale, ``output_scale`` (packed raw: 2), else 1."""
        return self.scale or self.output_scale or 1


def tasks_dir() -> Path:
    """``$BENCH_TASKS_DIR`` or the ``tasks/`` folder of this checkout."""
    override = os.environ.get(TASKS_DIR_ENV)
    return Path(override) if override else TASKS_DIR


def parse_task(path: Path) -> Task:
    """Load and validate one task file; its ``id`` must equal the file name's stem."""
    return load_definition(path, Task, TaskError, "task")


@cache
def _load_registry(folder: Path) -> dict[str, Task]:
    if not folder.is_dir():
        raise TaskError(f"task folder not found: {folder} (set ${TASKS_DIR_ENV})")
    return load_folder(folder, Task, TaskError, "task")


def all_tasks() -> dict[str, Task]:
    """Every task in the task folder, by id."""
    return dict(_load_registry(tasks_dir()))


def get_task(task_id: str) -> Task:
    """The task ``task_id``, or a :class:`TaskError` listing the known ids."""
    tasks = all_tasks()
    if task_id not in tasks:
        raise TaskError(f"unknown task {task_id!r}; known tasks: {', '.join(sorted(tasks))}")
    return tasks[task_id]
