"""A task's evaluation samples, streamed one at a time: source item -> model input -> Sample.

Clean-image sources go through the task's seeded degradation; paired sources provide the input.
What the model sees: RGB tasks get three channels (a one-channel image is repeated), grey tasks
one; inputs with extra channels (the inpainting mask) pass through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.data.degradations import apply_degradation
from bench.data.seeding import image_rng
from bench.data.sources import SOURCES, Entry, Source, SourceItem, resolve_folder

if TYPE_CHECKING:
    from bench.tasks import Task


@dataclass(frozen=True)
class Sample:
    """One evaluation pair: ``input`` float32 H x W x C in [0, 1] for the model, ``target`` uint8."""

    id: str
    input: np.ndarray
    target: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def data_folder(task: Task, data_root: Path | None) -> Path:
    """The folder the task's data is read from (see :func:`resolve_folder`)."""
    return resolve_folder(task.data.path, data_root, task.data.embedded)


def make_source(task: Task, data_root: Path | None) -> Source:
    """The task's source, reading its folder under ``data_root`` (or the embedded copy)."""
    return SOURCES[task.data.source](data_folder(task, data_root), colour=task.data.colour, **task.data.options)


def task_entries(task: Task, source: Source) -> list[Entry]:
    """The source's index, cut to the task's ``limit``."""
    entries = source.index()
    return entries[: task.data.limit] if task.data.limit is not None else entries


def _as_float(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) / 255.0) if image.dtype == np.uint8 else image.astype(np.float32)


def model_view(image: np.ndarray, colour: str) -> np.ndarray:
    """H x W (x C) -> H x W x C as the model sees it (3 channels for RGB tasks, 1 for grey)."""
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2) if colour == "rgb" else image[..., None]
    return image


def make_sample(task: Task, item: SourceItem) -> Sample:
    """Turn one source item into the (input, target) pair the task scores."""
    if task.degradation is None:
        assert item.input is not None, f"paired source gave no input for {item.id}"
        model_input, target = _as_float(item.input), item.target
    else:
        rng = image_rng(task.seed, item.id, task.degradation.name)
        model_input, target = apply_degradation(task.degradation.name, item.target, rng, dict(task.degradation.params))
    return Sample(item.id, model_view(model_input, task.data.colour), target, item.meta)


def iter_samples(task: Task, data_root: Path | None = None) -> Iterator[Sample]:
    """Stream the task's samples in index order; each is read and degraded only when reached."""
    source = make_source(task, data_root)
    for entry in task_entries(task, source):
        yield make_sample(task, source.load(entry))
