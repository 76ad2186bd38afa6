"""A task's evaluation samples, streamed one at a time: clean image -> seeded degradation -> Sample."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.data.degradations import apply_degradation
from bench.data.seeding import image_rng
from bench.data.sources import SOURCES, resolve_folder

if TYPE_CHECKING:
    from bench.tasks import Task


@dataclass(frozen=True)
class Sample:
    """One evaluation pair: ``input`` float32 H x W x C in [0, 1] for the model, ``target`` uint8."""

    id: str
    input: np.ndarray
    target: np.ndarray


def data_folder(task: Task, data_root: Path | None) -> Path:
    """The folder the task's clean images are read from (see :func:`resolve_folder`)."""
    return resolve_folder(task.data.path, data_root, task.data.embedded)


def iter_samples(task: Task, data_root: Path | None = None) -> Iterator[Sample]:
    """Stream the task's samples in a fixed order; each image is read and degraded when reached."""
    stream = SOURCES[task.data.source](data_folder(task, data_root))
    if task.data.limit is not None:
        stream = islice(stream, task.data.limit)
    for image_id, clean in stream:
        rng = image_rng(task.seed, image_id, task.degradation.name)
        model_input, target = apply_degradation(task.degradation.name, clean, rng, dict(task.degradation.params))
        yield Sample(image_id, model_input, target)
