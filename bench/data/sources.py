"""Where a task's clean images come from: a registry of sources, each streaming (id, image) pairs.

A source reads one data set from its official on-disk layout under the data root
(``--data-root`` / ``BENCH_DATA``); a source with an embedded copy (``embedded:`` in the task)
falls back to the copy shipped in the package when no data root is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from bench.data.images import list_images, read_image
from bench.registry import Registry

EMBEDDED_ROOT = Path(__file__).parent / "embedded"
DATA_ROOT_ENV = "BENCH_DATA"

ImageStream = Iterator[tuple[str, np.ndarray]]
SourceReader = Callable[[Path], ImageStream]
SOURCES = Registry[SourceReader]("data source")
register_source = SOURCES.register


class DataNotFound(FileNotFoundError):
    """A data set is not where its task expects it (the message gives the expected layout)."""


@register_source("image-folder")
def image_folder(folder: Path) -> ImageStream:
    """Every image directly inside ``folder`` (sorted by name), id = file stem; read lazily."""
    for path in list_images(folder):
        yield path.stem, read_image(path)


def default_data_root() -> Path | None:
    """``$BENCH_DATA`` if set, else None (embedded data only)."""
    value = os.environ.get(DATA_ROOT_ENV)
    return Path(value) if value else None


def resolve_folder(relative: str, data_root: Path | None, embedded: str | None) -> Path:
    """The folder holding a data set: ``data_root / relative``, or the embedded copy.

    With a data root given, the data set must be there (no silent fallback to embedded data);
    without one, the embedded copy is used when the task has one.
    """
    if data_root is not None:
        folder = Path(data_root) / relative
        if not folder.is_dir():
            hint = " (an embedded copy exists: run without --data-root to use it)" if embedded else ""
            raise DataNotFound(
                f"data set folder not found: {folder} (expected layout: <data-root>/{relative}/*.png){hint}"
            )
        return folder
    if embedded is not None:
        return EMBEDDED_ROOT / embedded
    raise DataNotFound(
        f"this task needs its data set at <data-root>/{relative}/; give --data-root DIR or set ${DATA_ROOT_ENV}"
    )
