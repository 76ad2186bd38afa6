"""Deblurring reference architecture: a mobile-friendly U-Net, and its LIST variant.

The design follows the portability guidelines of Chiang et al. (CVPRW 2020): no transposed
convolution (up-sampling is depth-to-space, i.e. 1x1 conv + PixelShuffle, or bilinear resize +
1x1 conv), stride-2 convs for down-sampling, ReLU, additive skips (no concat), and a global
residual (the network predicts the correction to the blurred input). Inputs of any size are
reflect-padded to a multiple of ``2^(levels - 1)`` and the output is cropped back.

Parameters (MACs for a 1280 x 720 output are in ``docs/models.md``):

* ``unet-mobile`` (width 16, 4 levels, 2 convs per level, pixel-shuffle up): 630,483 params;
* ``unet-mobile-list`` (LIST for every inner 3x3 conv, bilinear + LIST up/down): 44,015 params.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from torch import nn

from bench.models.layers import ResidualUNet, unet_up
from bench.models.lightweight import ConvKind, ResizeLIST, conv3x3
from bench.models.registry import register_model

UpKind = Literal["pixelshuffle", "bilinear"]


def _level(channels: int, blocks: int, kind: ConvKind) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers += [conv3x3(channels, channels, kind), nn.ReLU()]
    return nn.Sequential(*layers)


def _down(c_in: int, c_out: int, kind: ConvKind) -> nn.Module:
    if kind == "list":
        return nn.Sequential(ResizeLIST(c_in, c_out, 0.5), nn.ReLU())
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU())


def _up(c_in: int, c_out: int, kind: ConvKind, up: UpKind) -> nn.Module:
    return ResizeLIST(c_in, c_out, 2.0) if kind == "list" else unet_up(c_in, c_out, up)


class MobileUNet(ResidualUNet):
    """U-Net with widths ``width * 2^i`` for i < ``levels``; ``kind='list'`` makes every inner 3x3 a LIST.

    head 3x3 (C -> w) ; per level: ``blocks`` x (3x3 + ReLU), then stride-2 3x3 to the next width ;
    bottleneck blocks ; per level back up: up-sample to the skip's width, add the skip, blocks ;
    tail 3x3 (w -> C) ; output = input + tail.
    """

    def __init__(
        self, channels: int = 3, width: int = 16, levels: int = 4, blocks: int = 2, up: UpKind = "pixelshuffle",
        kind: ConvKind = "conv",
    ) -> None:  # fmt: skip
        super().__init__()
        if levels < 2:
            raise ValueError(f"a U-Net needs at least 2 levels, got {levels}")
        widths = [width * 2**i for i in range(levels)]
        self.multiple = 2 ** (levels - 1)
        self.head = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(_level(w, blocks, kind) for w in widths[:-1])
        self.downs = nn.ModuleList(_down(a, b, kind) for a, b in pairwise(widths))
        self.bottleneck = _level(widths[-1], blocks, kind)
        self.ups = nn.ModuleList(_up(b, a, kind, up) for a, b in pairwise(widths))
        self.decoders = nn.ModuleList(_level(w, blocks, kind) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], channels, 3, padding=1)


@register_model("unet-mobile", test_args={"width": 8, "levels": 3, "blocks": 1}, test_shape=(1, 3, 18, 22))
def unet_mobile(
    channels: int = 3, width: int = 16, levels: int = 4, blocks: int = 2, up: UpKind = "pixelshuffle"
) -> nn.Module:
    """Mobile-friendly deblurring U-Net: stride-2 down, depth-to-space (or bilinear) up, no transposed conv."""
    return MobileUNet(channels, width, levels, blocks, up, "conv")


@register_model("unet-mobile-list", test_args={"width": 8, "levels": 2, "blocks": 1}, test_shape=(1, 3, 16, 16))
def unet_mobile_list(channels: int = 3, width: int = 16, levels: int = 4, blocks: int = 2) -> nn.Module:
    """The mobile U-Net with LIST layers, bilinear + LIST down- and up-sampling (Lahiri et al.)."""
    return MobileUNet(channels, width, levels, blocks, "bilinear", "list")
