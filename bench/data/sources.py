"""Where a task's images come from: a registry of sources, each reading one official layout.

A :class:`Source` first builds an *index* (:class:`Entry` per sample: id and file paths, no pixels
read), then streams :class:`SourceItem` s one at a time. The index is what ``bench data check``
verifies (presence, readability, sizes), so checking and reading can never disagree about the
layout. Paired data sets (GoPro, REDS, SIDD, SID, pre-made LR folders) provide the model input
themselves; the others provide clean images that a seeded degradation turns into inputs.

The data root is ``--data-root`` or ``$BENCH_DATA``; a task with an ``embedded`` copy falls back to
the copy shipped in the package when no data root is given.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

from bench.data.images import ImageReadError, image_size, list_images, read_image
from bench.errors import DataNotFound
from bench.registry import Registry

EMBEDDED_ROOT = Path(__file__).parent / "embedded"
DATA_ROOT_ENV = "BENCH_DATA"
Colour = Literal["rgb", "grey"]


@dataclass(frozen=True)
class Entry:
    """One sample as files: ``target`` (clean / ground truth), optional ``input``, and facts about it."""

    id: str
    target: Path
    input: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceItem:
    """One sample as pixels: uint8 ``target``; ``input`` given by paired data sets (uint8 or float32)."""

    id: str
    target: np.ndarray
    input: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a data set on disk: which file, and what."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def to_colour(image: np.ndarray, colour: Colour) -> np.ndarray:
    """Grey tasks get H x W (ITU-R 601 luma, Pillow's 'L' conversion); RGB tasks keep what the file has."""
    if colour == "grey" and image.ndim == 3:
        weights = np.array([299, 587, 114], dtype=np.int64)
        return ((image.astype(np.int64) @ weights + 500) // 1000).astype(np.uint8)  # Pillow's L formula
    return image


class Source(ABC):
    """A data-set layout under ``folder`` (the task's ``data.path`` under the data root)."""

    name: ClassVar[str]
    paired: ClassVar[bool] = False  # True: the data set provides the model input itself

    def __init__(self, folder: Path, colour: Colour = "rgb", **options: Any) -> None:
        self.folder = folder
        self.colour = colour
        self.options = options

    @abstractmethod
    def layout(self) -> str:
        """The expected layout, for messages (e.g. ``blur/*.png and sharp/*.png per sequence``)."""

    @abstractmethod
    def index(self) -> list[Entry]:
        """Every sample's files, in evaluation order; raises :class:`DataNotFound` if the layout is absent."""

    def found(self, entries: list[Entry], missing: str) -> list[Entry]:
        """``entries``, or :class:`DataNotFound` saying what is ``missing`` and the expected layout."""
        if not entries:
            raise DataNotFound(f"{missing} (expected layout: {self.layout()})")
        return entries

    def load(self, entry: Entry) -> SourceItem:
        """Read one entry's pixels."""
        target = to_colour(read_image(entry.target), self.colour)
        model_input = to_colour(read_image(entry.input), self.colour) if entry.input is not None else None
        return SourceItem(entry.id, target, model_input, entry.meta)

    def expected_input_size(self, entry: Entry, target_size: tuple[int, int]) -> tuple[int, int] | None:
        """(W, H) the input must have given the target's, or None when any size is fine."""
        return target_size

    def items(self) -> Iterator[SourceItem]:
        for entry in self.index():
            yield self.load(entry)

    def check(self, entries: list[Entry]) -> list[Problem]:
        """Verify every indexed file: present, decodable, input/target sizes agree."""
        return [problem for entry in entries for problem in self.check_entry(entry)]

    def check_entry(self, entry: Entry) -> list[Problem]:
        problems: list[Problem] = []
        sizes: dict[str, tuple[int, int]] = {}
        for role, path in (("target", entry.target), ("input", entry.input)):
            if path is None:
                continue
            if not path.is_file():
                problems.append(Problem(path, f"missing {role} file"))
                continue
            try:
                sizes[role] = image_size(path)
            except ImageReadError as exc:
                problems.append(Problem(path, f"unreadable {role}: {exc}"))
        if "target" in sizes and "input" in sizes and entry.input is not None:
            expected = self.expected_input_size(entry, sizes["target"])
            if expected is not None and sizes["input"] != expected:
                problems.append(
                    Problem(
                        entry.input,
                        f"size mismatch: input is {sizes['input'][0]}x{sizes['input'][1]}, expected "
                        f"{expected[0]}x{expected[1]} for target {entry.target.name} "
                        f"({sizes['target'][0]}x{sizes['target'][1]})",
                    )
                )
        return problems


SOURCES = Registry[type[Source]]("data source")
SourceT = TypeVar("SourceT", bound=type[Source])


def register_source(name: str, paired: bool = False) -> Callable[[SourceT], SourceT]:
    """Class decorator: register a :class:`Source` under ``name`` (which becomes its ``name``); ``paired``
    when the data set provides the model input itself."""

    def wrap(cls: SourceT) -> SourceT:
        cls.name, cls.paired = name, paired
        SOURCES.add(name, cls)
        return cls

    return wrap


def require_dir(folder: Path, layout: str) -> Path:
    if not folder.is_dir():
        raise DataNotFound(f"folder not found: {folder} (expected layout: {layout})")
    return folder


@register_source("image-folder")
class ImageFolder(Source):
    """Every image directly inside the folder, sorted by name; id = file stem."""

    def layout(self) -> str:
        return f"{self.folder}/*.png|jpg|bmp|tif (clean images, one folder)"

    def index(self) -> list[Entry]:
        images = list_images(require_dir(self.folder, self.layout()))
        if not images:
            raise DataNotFound(f"no images in {self.folder} (expected layout: {self.layout()})")
        return [Entry(path.stem, path) for path in images]


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
        if not folder.exists():
            hint = " (an embedded copy exists: run without --data-root to use it)" if embedded else ""
            raise DataNotFound(f"data set folder not found: {folder} (expected under <data-root>/{relative}){hint}")
        return folder
    if embedded is not None:
        return EMBEDDED_ROOT / embedded
    raise DataNotFound(
        f"this task needs its data set at <data-root>/{relative}; give --data-root DIR or set ${DATA_ROOT_ENV}"
    )
