"""``nas-sr``: the super-resolution family that ``bench optimize nas`` searches (after Zhan et al., ICCV 2021).

The network is a head conv (RGB -> ``width``), a chain of cells, and a sub-pixel output::

    f = cells(conv3x3(x))                                    # width channels at input resolution
    y = PixelShuffle(s)(conv3x3(f) + nearest_skip(x))        # s^2 * 3 channels -> 3 at s times the size

``nearest_skip`` is a fixed 1x1 conv copying each input channel to its ``s^2`` sub-pixel
positions, so the network learns the residual over a nearest-neighbour upscale (one cheap conv,
which every backend delegates, instead of a resize). Cells, one per entry of ``cells``:

* ``identity``: nothing (the cell is skipped);
* ``edsr``: ``x + conv3x3(relu(conv3x3(x)))`` with ``inner`` channels between (EDSR's resblock);
* ``wdsr-a``: the same shape with a wide inner activation (``inner`` up to 2 x width);
* ``wdsr-b``: ``x + conv3x3(conv1x1(relu(conv1x1(x))))``: 1x1 expansion to ``inner``, 1x1 linear
  low-rank to ``low``, then the 3x3 (WDSR-B's block, without weight normalisation).

Each cell and the output stage declare themselves latency units (``latency_unit``), so the
per-layer latency table measures them whole, residual addition included.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.registry import register_model

BLOCKS = ("identity", "edsr", "wdsr-a", "wdsr-b")


def wdsr_low(width: int) -> int:
    """WDSR-B's low-rank width: 0.8 x width rounded down to a multiple of 8 (at least 8)."""
    return max(8, int(0.8 * width) // 8 * 8)


class ResidualCell(nn.Module):
    """``x + conv2(relu(conv1(x)))``: EDSR's resblock (``edsr``) or its wide-activation form (``wdsr-a``)."""

    latency_unit = True

    def __init__(self, block: str, width: int, inner: int) -> None:
        super().__init__()
        self.block = block
        self.conv1 = nn.Conv2d(width, inner, 3, padding=1)
        self.conv2 = nn.Conv2d(inner, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))

    def unit_key(self) -> str:
        return f"{self.block}({self.conv1.in_channels},{self.conv1.out_channels})"


class WDSRBCell(nn.Module):
    """``x + conv3(conv2(relu(conv1(x))))``: 1x1 to ``inner``, ReLU, 1x1 to ``low``, 3x3 back to width."""

    latency_unit = True

    def __init__(self, width: int, inner: int, low: int) -> None:
        super().__init__()
        self.block = "wdsr-b"
        self.conv1 = nn.Conv2d(width, inner, 1)
        self.conv2 = nn.Conv2d(inner, low, 1)
        self.conv3 = nn.Conv2d(low, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv3(self.conv2(F.relu(self.conv1(x))))

    def unit_key(self) -> str:
        return f"wdsr-b({self.conv1.in_channels},{self.conv1.out_channels},{self.conv2.out_channels})"


def nearest_weight(scale: int, channels: int = 3) -> torch.Tensor:
    """1x1 conv weight [C s^2, C, 1, 1] copying channel c to outputs c s^2 .. c s^2 + s^2 - 1 (PixelShuffle order)."""
    weight = torch.zeros(channels * scale * scale, channels, 1, 1)
    for c in range(channels):
        weight[c * scale * scale : (c + 1) * scale * scale, c] = 1.0
    return weight


class SubPixelOut(nn.Module):
    """``PixelShuffle(s)(conv3x3(features) + nearest_skip(image))``: the output stage."""

    latency_unit = True

    def __init__(self, width: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(width, 3 * scale * scale, 3, padding=1)
        self.register_buffer("skip", nearest_weight(scale), persistent=False)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        skip: torch.Tensor = self.skip  # type: ignore[assignment]  # a registered buffer
        return self.shuffle(self.conv(features) + F.conv2d(image, skip))

    def unit_key(self) -> str:
        return f"subpixel-out({self.conv.in_channels},x{self.scale})"

    def latency_probe(self) -> nn.Module:
        return _OutProbe(self)


class _OutProbe(nn.Module):
    """The output stage as a one-input model (its image is the features' first 3 channels: a free slice)."""

    def __init__(self, out: SubPixelOut) -> None:
        super().__init__()
        self.out = out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out(features, features[:, :3])


def make_cell(block: str, width: int, inner: int | None = None, low: int | None = None) -> nn.Module:
    """One cell of ``block`` at trunk ``width`` (``inner``/``low`` default to the block's full size)."""
    if block == "identity":
        return nn.Identity()
    if block in ("edsr", "wdsr-a"):
        return ResidualCell(block, width, inner or (width if block == "edsr" else 2 * width))
    if block == "wdsr-b":
        return WDSRBCell(width, inner or 4 * width, low or wdsr_low(width))
    raise ValueError(f"unknown cell block {block!r}; expected one of {', '.join(BLOCKS)}")


class NasSR(nn.Module):
    """Head conv, a chain of searched cells, sub-pixel output over a nearest-neighbour skip (see the module doc)."""

    latency_routing_only = True  # its forward only chains its children (the latency table's decomposition)

    def __init__(self, scale: int, width: int, cells: list[dict[str, Any]]) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.cells = nn.Sequential(*(make_cell(width=width, **cell) for cell in cells))
        self.out = SubPixelOut(width, scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.cells(self.head(x)), x)


@register_model(
    "nas-sr",
    task_args=("scale",),
    test_args={
        "scale": 2,
        "width": 8,
        "cells": [{"block": "edsr"}, {"block": "wdsr-a", "inner": 8}, {"block": "wdsr-b"}, {"block": "identity"}],
    },
)
def nas_sr(scale: int, width: int = 32, cells: list[dict[str, Any]] | None = None) -> nn.Module:
    """NAS-searched SR net (bench optimize nas): head, cells of EDSR / WDSR-A / WDSR-B blocks, sub-pixel out."""
    return NasSR(scale, width, list(cells) if cells is not None else [{"block": "edsr"}] * 4)
