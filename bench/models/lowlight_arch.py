"""Low-light reference architectures: the SID U-Net (Chen et al., CVPR 2018) on packed raw, and an sRGB variant.

``sid-unet``: input N x 4 x H x W, the packed, black-level-subtracted, exposure-amplified Bayer
planes (R, G1, B, G2; see ``bench/data/sid.py``); output N x 3 x 2H x 2W sRGB. Five levels of
two 3x3 convs + LeakyReLU(0.2) at 32..512 channels, 2x2 max-pooling, concat skips, a 1x1 conv
to 12 channels and a depth-to-space (PixelShuffle) by 2.

Up-sampling (``up``): the paper's 2x2 stride-2 transposed conv touches each output pixel with
exactly one kernel tap, so it equals a 1x1 conv to 4 C channels + PixelShuffle(2), the default
here (``pixelshuffle``: same function, 3 C more biases per layer, no TRANSPOSE_CONV op);
``deconv`` keeps the paper's layer, ``bilinear`` uses bilinear resize + 1x1 conv.

``sid-unet-srgb``: the same network on 8-bit sRGB (N x 3 x H x W -> N x 3 x H x W): a
space-to-depth (PixelUnshuffle 2) turns the image into 12 half-resolution planes, so the cost per
output pixel is that of the raw model.

Parameters: sid-unet 7,760,748 with ``deconv`` (the paper's network), 7,762,188 with
``pixelshuffle``; sid-unet-srgb 7,764,492. Any input size works (reflect padding to a multiple of
16 at the U-Net's resolution, cropped back).
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.layers import UNetUpKind, crop_to, pad_to_multiple, unet_up
from bench.models.registry import register_model

UpKind = UNetUpKind


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.LeakyReLU(0.2),
    )


class SIDUNet(nn.Module):
    """The SID U-Net; ``unshuffle=True`` adds a space-to-depth on the input (the sRGB variant)."""

    def __init__(
        self, in_channels: int = 4, width: int = 32, levels: int = 5, up: UpKind = "pixelshuffle",
        unshuffle: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        widths = [width * 2**i for i in range(levels)]
        self.unshuffle = nn.PixelUnshuffle(2) if unshuffle else None
        first = in_channels * 4 if unshuffle else in_channels
        self.multiple = 2 ** (levels - 1) * (2 if unshuffle else 1)
        self.encoders = nn.ModuleList(_double_conv(a, b) for a, b in zip([first, *widths[:-1]], widths, strict=True))
        self.ups = nn.ModuleList(unet_up(b, a, up) for a, b in pairwise(widths))
        self.decoders = nn.ModuleList(_double_conv(2 * w, w) for w in widths[:-1])
        self.out = nn.Sequential(nn.Conv2d(widths[0], 12, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2], x.shape[3]
        y = pad_to_multiple(x, self.multiple)
        if self.unshuffle is not None:
            y = self.unshuffle(y)
        skips = []
        for i, encoder in enumerate(self.encoders):
            y = encoder(y if i == 0 else F.max_pool2d(y, 2))
            skips.append(y)
        y = skips.pop()
        for i in reversed(range(len(self.ups))):
            y = self.decoders[i](torch.cat([self.ups[i](y), skips[i]], dim=1))
        factor = 1 if self.unshuffle is not None else 2
        return crop_to(self.out(y), height * factor, width * factor)


@register_model("sid-unet", test_args={"width": 4, "levels": 3}, test_shape=(1, 4, 16, 16))
def sid_unet(width: int = 32, levels: int = 5, up: UpKind = "pixelshuffle") -> nn.Module:
    """SID U-Net: packed 4-channel raw (amplified) in, sRGB at twice the resolution out."""
    return SIDUNet(4, width, levels, up, unshuffle=False)


@register_model("sid-unet-srgb", test_args={"width": 4, "levels": 3}, test_shape=(1, 3, 30, 26))
def sid_unet_srgb(width: int = 32, levels: int = 5, up: UpKind = "pixelshuffle") -> nn.Module:
    """SID U-Net on dark sRGB: space-to-depth in, the U-Net, depth-to-space out (same resolution)."""
    return SIDUNet(3, width, levels, up, unshuffle=True)
