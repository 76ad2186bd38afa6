"""``unet-portable``: the deblurring U-Net family that ``bench optimize portable`` searches (after Chiang et al.).

Every structural choice is an argument, so the search can keep to the ops a set of devices runs well:

* ``levels`` (depth), ``width`` (channels at full resolution, doubling per level), ``blocks`` per level;
* ``down``: ``conv`` (3x3 stride 2), ``maxpool`` or ``avgpool`` (2x2, then a 1x1 conv to the next
  width), ``space-to-depth`` (PixelUnshuffle(2), then a 1x1 conv);
* ``up``: ``pixelshuffle`` (1x1 conv + depth-to-space), ``deconv`` (2x2 stride-2 transposed conv),
  ``bilinear`` or ``nearest`` (x2 resize, then a 1x1 conv);
* ``skip``: ``add`` (decoder input = up + skip) or ``concat`` (then a 1x1 conv back to the width);
* ``act``: ``relu``, ``prelu``, ``leakyrelu`` (slope 0.1) or ``hardswish``.

The network predicts a correction to its input (global residual); inputs of any size are
reflect-padded to a multiple of ``2^(levels - 1)`` and cropped back.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.layers import ResidualUNet
from bench.models.registry import register_model

ACTS: dict[str, Callable[[int], nn.Module]] = {
    "relu": lambda c: nn.ReLU(),
    "prelu": lambda c: nn.PReLU(c),
    "leakyrelu": lambda c: nn.LeakyReLU(0.1),
    "hardswish": lambda c: nn.Hardswish(),
}
DOWNS = ("conv", "maxpool", "avgpool", "space-to-depth")
UPS = ("pixelshuffle", "deconv", "bilinear", "nearest")
SKIPS = ("add", "concat")


class Resize2x(nn.Module):
    """x2 resize (``bilinear`` or ``nearest``), then a 1x1 conv to ``c_out``."""

    def __init__(self, c_in: int, c_out: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[2] * 2, x.shape[3] * 2)
        align = False if self.mode == "bilinear" else None
        return self.conv(F.interpolate(x, size=size, mode=self.mode, align_corners=align))


def make_down(kind: str, c_in: int, c_out: int, act: str) -> nn.Module:
    if kind == "conv":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), ACTS[act](c_out))
    if kind in ("maxpool", "avgpool"):
        pool = nn.MaxPool2d(2) if kind == "maxpool" else nn.AvgPool2d(2)
        return nn.Sequential(pool, nn.Conv2d(c_in, c_out, 1), ACTS[act](c_out))
    if kind == "space-to-depth":
        return nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4 * c_in, c_out, 1), ACTS[act](c_out))
    raise ValueError(f"unknown down-sampling {kind!r}; expected one of {', '.join(DOWNS)}")


def make_up(kind: str, c_in: int, c_out: int) -> nn.Module:
    if kind == "pixelshuffle":
        return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 1), nn.PixelShuffle(2))
    if kind == "deconv":
        return nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
    if kind in ("bilinear", "nearest"):
        return Resize2x(c_in, c_out, kind)
    raise ValueError(f"unknown up-sampling {kind!r}; expected one of {', '.join(UPS)}")


def _level(channels: int, blocks: int, act: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), ACTS[act](channels)]
    return nn.Sequential(*layers)


class PortableUNet(ResidualUNet):
    """head 3x3 ; per level: blocks, down ; bottleneck ; per level up: up, merge the skip, blocks ; tail ; + input."""

    def __init__(self, channels: int = 3, width: int = 16, levels: int = 3, blocks: int = 1, down: str = "conv",
                 up: str = "pixelshuffle", skip: str = "add", act: str = "relu") -> None:  # fmt: skip
        super().__init__()
        if levels < 2:
            raise ValueError(f"a U-Net needs at least 2 levels, got {levels}")
        if act not in ACTS or skip not in SKIPS:
            raise ValueError(f"act must be one of {', '.join(ACTS)} and skip one of {', '.join(SKIPS)}")
        widths = [width * 2**i for i in range(levels)]
        self.multiple, self.skip = 2 ** (levels - 1), skip
        self.head = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), ACTS[act](width))
        self.encoders = nn.ModuleList(_level(w, blocks, act) for w in widths[:-1])
        self.downs = nn.ModuleList(make_down(down, a, b, act) for a, b in pairwise(widths))
        self.bottleneck = _level(widths[-1], blocks, act)
        self.ups = nn.ModuleList(make_up(up, b, a) for a, b in pairwise(widths))
        self.merges = nn.ModuleList(
            nn.Conv2d(2 * w, w, 1) if skip == "concat" else nn.Identity() for w in widths[:-1]
        )  # fmt: skip
        self.decoders = nn.ModuleList(_level(w, blocks, act) for w in widths[:-1])
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def merge(self, level: int, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.skip == "concat":
            return self.merges[level](torch.cat([up, skip], dim=1))
        return up + skip


@register_model(
    "unet-portable",
    test_args={"width": 8, "levels": 3, "down": "space-to-depth", "up": "bilinear", "skip": "concat", "act": "prelu"},
    test_shape=(1, 3, 18, 22),
)
def unet_portable(channels: int = 3, width: int = 16, levels: int = 3, blocks: int = 1, down: str = "conv",
                  up: str = "pixelshuffle", skip: str = "add", act: str = "relu") -> nn.Module:  # fmt: skip
    """Deblurring U-Net with searchable depth, width, blocks, down/up ops, skip type and activation."""
    return PortableUNet(channels, width, levels, blocks, down, up, skip, act)
