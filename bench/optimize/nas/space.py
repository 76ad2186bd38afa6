"""The NAS search space: trunk width, a block per cell, a pruning scheme and ratio per layer.

A :class:`Candidate` is one point of it. Its layers are the convs inside its cells, each with
the schemes that make sense for it (:func:`layer_menu`):

* ``dense``: untouched;
* ``filter``: remove output filters (only where the outputs stay inside the cell; the kept count is
  rounded up to a multiple of 8), which makes the model physically narrower;
* ``pattern``: 3x3 kernels only; every kernel keeps 4 of its 9 weights (the best of a library of
  patterns, PatDNN-style) and a ``ratio`` of whole kernels is removed (connectivity pruning);
* ``block``: the weight matrix [C_out, C_in k k] loses a ``ratio`` of its 8x4 blocks.

``pattern`` and ``block`` keep the shapes: their zeros make a model faster only where the
compiler or kernel library exploits that sparsity. The latency model is measured on the target
device, so it says whether it does (for XNNPACK's dense convs on x86: no, see docs/optimize.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.models.nas_arch import BLOCKS, wdsr_low

SCHEMES = ("dense", "filter", "pattern", "block")
RATIOS = (0.25, 0.5, 0.75)  # the per-layer pruning ratios the ratio search chooses from
DEFAULT_RATIO = {"dense": 0.0, "filter": 0.5, "pattern": 0.25, "block": 0.5}  # phase 1 (scheme search)


@dataclass(frozen=True)
class LayerSpec:
    """A conv in a cell: its name in the cell, kernel size, and whether its outputs stay inside the cell."""

    name: str
    kernel: int
    internal: bool


CELL_LAYERS: dict[str, tuple[LayerSpec, ...]] = {
    "identity": (),
    "edsr": (LayerSpec("conv1", 3, True), LayerSpec("conv2", 3, False)),
    "wdsr-a": (LayerSpec("conv1", 3, True), LayerSpec("conv2", 3, False)),
    "wdsr-b": (LayerSpec("conv1", 1, True), LayerSpec("conv2", 1, True), LayerSpec("conv3", 3, False)),
}


def layer_menu(layer: LayerSpec) -> tuple[str, ...]:
    """The schemes allowed on ``layer``."""
    menu = ["dense"]
    if layer.internal:
        menu.append("filter")
    if layer.kernel == 3:
        menu.append("pattern")
    menu.append("block")
    return tuple(menu)


def full_inner(block: str, width: int) -> tuple[int, ...]:
    """Output channels of each internal layer of ``block`` at trunk ``width``, before filter pruning."""
    return {"identity": (), "edsr": (width,), "wdsr-a": (2 * width,), "wdsr-b": (4 * width, wdsr_low(width))}[block]


def kept(channels: int, ratio: float, multiple: int = 8) -> int:
    """Filters kept when ``ratio`` of ``channels`` are removed: rounded up to ``multiple``, at least ``multiple``."""
    return min(channels, max(multiple, math.ceil(channels * (1 - ratio) / multiple) * multiple))


@dataclass(frozen=True)
class CellChoice:
    block: str
    schemes: tuple[str, ...] = ()  # one per layer of the block (CELL_LAYERS order)
    ratios: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.block not in BLOCKS:
            raise ValueError(f"unknown block {self.block!r}; expected one of {', '.join(BLOCKS)}")
        layers = CELL_LAYERS[self.block]
        schemes = self.schemes or ("dense",) * len(layers)
        ratios = self.ratios or tuple(DEFAULT_RATIO[s] for s in schemes)
        if len(schemes) != len(layers) or len(ratios) != len(layers):
            raise ValueError(f"block {self.block} has {len(layers)} layers; got {schemes} and {ratios}")
        for layer, scheme in zip(layers, schemes, strict=True):
            if scheme not in layer_menu(layer):
                raise ValueError(f"scheme {scheme!r} is not allowed on {self.block}.{layer.name}")
        object.__setattr__(self, "schemes", tuple(schemes))
        object.__setattr__(self, "ratios", tuple(float(r) for r in ratios))

    def widths(self, width: int) -> tuple[int, ...]:
        """The internal layers' output channels after filter pruning."""
        full = full_inner(self.block, width)
        return tuple(
            kept(c, r) if s == "filter" else c for c, s, r in zip(full, self.schemes, self.ratios, strict=False)
        )

    def arch(self, width: int) -> dict[str, Any]:
        """This cell as ``nas-sr`` architecture arguments."""
        if self.block == "identity":
            return {"block": "identity"}
        widths = self.widths(width)
        if self.block == "wdsr-b":
            return {"block": "wdsr-b", "inner": widths[0], "low": widths[1]}
        return {"block": self.block, "inner": widths[0]}

    def describe(self) -> str:
        if self.block == "identity":
            return "identity"
        layers = ",".join(s if s == "dense" else f"{s}{r:g}" for s, r in zip(self.schemes, self.ratios, strict=True))
        return f"{self.block}[{layers}]"


@dataclass(frozen=True)
class Candidate:
    width: int
    cells: tuple[CellChoice, ...]

    def arch_args(self) -> dict[str, Any]:
        """``nas-sr`` architecture arguments (scale comes from the task)."""
        return {"width": self.width, "cells": [c.arch(self.width) for c in self.cells]}

    def sparse_layers(self) -> list[tuple[int, str, str, float]]:
        """(cell index, layer name, scheme, ratio) of every pattern- or block-pruned layer."""
        out = []
        for index, cell in enumerate(self.cells):
            for layer, scheme, ratio in zip(CELL_LAYERS[cell.block], cell.schemes, cell.ratios, strict=True):
                if scheme in ("pattern", "block"):
                    out.append((index, layer.name, scheme, ratio))
        return out

    def describe(self) -> str:
        return f"w{self.width} " + " ".join(c.describe() for c in self.cells)

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "cells": [
            {"block": c.block, "schemes": list(c.schemes), "ratios": list(c.ratios)} for c in self.cells
        ]}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Candidate:
        return cls(int(raw["width"]), tuple(
            CellChoice(c["block"], tuple(c["schemes"]), tuple(c["ratios"])) for c in raw["cells"]
        ))  # fmt: skip


@dataclass(frozen=True)
class SearchSpace:
    """Widths to choose the trunk from, the number of cells, and the blocks a cell may be."""

    widths: tuple[int, ...] = (16, 24, 32)
    cells: int = 4
    blocks: tuple[str, ...] = BLOCKS
    ratios: tuple[float, ...] = field(default=RATIOS)

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 8 or any(w % 8 for w in self.widths):
            raise ValueError(f"widths must be multiples of 8, got {self.widths}")
        if self.cells < 1:
            raise ValueError(f"need at least one cell, got {self.cells}")
        unknown = set(self.blocks) - set(BLOCKS)
        if unknown or not self.blocks:
            raise ValueError(f"blocks must be among {', '.join(BLOCKS)}, got {self.blocks}")

    @property
    def max_width(self) -> int:
        return max(self.widths)
