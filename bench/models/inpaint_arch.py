"""Inpainting reference architectures: a dilated-conv encoder-decoder (after Iizuka et al. 2017) and its LIST variant.

Input contract (``bench/data/degradations.py:masked_input``, the inpainting tasks): N x 4 x H x W,
the RGB image with the holes set to 0, then the mask channel (1 = hole). Output: N x 3 x H x W,
the network's prediction inside the holes composited with the known pixels outside them
(``x * (1 - m) + y * m``), so known pixels pass through exactly.

Network (width w): 5x5 (4 -> w); stride-2 3x3 (w -> 2w), 3x3; stride-2 3x3 (2w -> 4w), 3x3;
dilated 3x3 at 4w with dilations 2, 4, 8, 16; 3x3; up x2 (depth-to-space) to 2w, 3x3; up x2
to w, 3x3; 3x3 (w -> 3). ReLU everywhere but the output. The LIST variant (``inpaint-dilated-list``)
replaces every inner 3x3 with LIST, every dilated conv with GSAT, the stride-2 convs with
bilinear-down + LIST and the up-samplers with bilinear-up + LIST (Lahiri et al.).

Parameters (w = 32): inpaint-dilated 1,106,403; inpaint-dilated-list 123,219 (9.0x fewer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.models.layers import crop_to, pad_to_multiple
from bench.models.lightweight import GSAT, ConvKind, ResizeLIST, conv3x3
from bench.models.registry import register_model

DILATIONS = (2, 4, 8, 16)


def _conv(c_in: int, c_out: int, kind: ConvKind) -> nn.Sequential:
    return nn.Sequential(conv3x3(c_in, c_out, kind), nn.ReLU())


def _down(c_in: int, c_out: int, kind: ConvKind) -> nn.Sequential:
    if kind == "list":
        return nn.Sequential(ResizeLIST(c_in, c_out, 0.5), nn.ReLU())
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU())


def _up(c_in: int, c_out: int, kind: ConvKind) -> nn.Sequential:
    if kind == "list":
        return nn.Sequential(ResizeLIST(c_in, c_out, 2.0), nn.ReLU())
    return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 1), nn.PixelShuffle(2), nn.ReLU())


def _dilated(channels: int, dilation: int, kind: ConvKind) -> nn.Module:
    if kind == "list":
        return GSAT(channels, dilation, groups=8)
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation), nn.ReLU())


class DilatedInpaintNet(nn.Module):
    """The encoder-decoder described in the module docstring; ``kind='list'`` gives the lightweight variant."""

    def __init__(self, width: int = 32, kind: ConvKind = "conv", dilations: tuple[int, ...] = DILATIONS) -> None:
        super().__init__()
        w1, w2, w4 = width, 2 * width, 4 * width
        self.net = nn.Sequential(
            nn.Conv2d(4, w1, 5, padding=2), nn.ReLU(),
            _down(w1, w2, kind), _conv(w2, w2, kind),
            _down(w2, w4, kind), _conv(w4, w4, kind),
            *[_dilated(w4, d, kind) for d in dilations],
            _conv(w4, w4, kind),
            _up(w4, w2, kind), _conv(w2, w2, kind),
            _up(w2, w1, kind), _conv(w1, w1, kind),
            nn.Conv2d(w1, 3, 3, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2], x.shape[3]
        image, mask = x[:, :3], x[:, 3:4]
        predicted = crop_to(self.net(pad_to_multiple(x, 4)), height, width)
        return image * (1.0 - mask) + predicted * mask


@register_model("inpaint-dilated", test_args={"width": 8, "dilations": [2, 4]}, test_shape=(1, 4, 18, 18))
def inpaint_dilated(width: int = 32, dilations: Sequence[int] = DILATIONS) -> nn.Module:
    """Dilated-conv encoder-decoder for inpainting: image + mask in, composited RGB out."""
    return DilatedInpaintNet(width, "conv", tuple(dilations))


@register_model("inpaint-dilated-list", test_args={"width": 8, "dilations": [2, 4]}, test_shape=(1, 4, 16, 16))
def inpaint_dilated_list(width: int = 32, dilations: Sequence[int] = DILATIONS) -> nn.Module:
    """The inpainting encoder-decoder with LIST, GSAT and bilinear + LIST up/down-sampling."""
    return DilatedInpaintNet(width, "list", tuple(dilations))
