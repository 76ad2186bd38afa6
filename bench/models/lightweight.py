"""The lightweight module library of Lahiri et al. (TCSVT 2021, arXiv 2007.05835), as drop-in layers.

* :class:`LIST` replaces a 3x3 convolution: a 1x1 squeeze to ``C_in / 4`` channels, then the
  concatenation of a depthwise-separable branch (depthwise 3x3, 1x1 to ``C_out / 2``) and a 1x1
  branch (to ``C_out / 2``), as in the authors' PyTorch ``block.py``. At 64 -> 64 channels it has
  2,288 parameters (biases included) against 36,864 (+64) for the 3x3 conv: 16.1x fewer
  weights+biases, 16.8x fewer weights.
* :class:`GSAT` replaces a dilated 3x3 convolution: grouped dilated 3x3 (8 groups), channel
  shuffle, grouped 1x1, batch norm, add the input, ReLU.
* :class:`ResizeLIST` up/down-samples: bilinear resize by a fixed factor, then a LIST layer.
* :class:`DepthwiseSeparableConv`: depthwise k x k then pointwise 1x1; the paper's negative
  control when it feeds a pixel shuffle.

:func:`conv3x3` builds the 3x3 layer of a network by kind (``conv``, ``list``, ``dsconv``) so the
reference architectures take their lightweight variants as one argument. Every layer here
converts to TFLite with litert-torch (conv, depthwise conv, concat, reshape/transpose,
RESIZE_BILINEAR); none uses a transposed convolution.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ConvKind = Literal["conv", "list", "dsconv"]


class DepthwiseSeparableConv(nn.Module):
    """Depthwise ``kernel`` x ``kernel`` conv (one filter per input channel), then a 1x1 conv to ``c_out``.

    Parameters: ``c_in k^2 + c_in`` (depthwise) + ``c_in c_out + c_out`` (pointwise).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, dilation: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel // 2)
        self.depthwise = nn.Conv2d(c_in, c_in, kernel, padding=pad, dilation=dilation, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class LIST(nn.Module):
    """LIST layer (drop-in for a 3x3 conv, stride 1, 'same' padding).

    squeeze = 1x1 (c_in -> c_in/4); out = concat[dsconv3x3(squeeze -> c_out/2), 1x1(squeeze -> c_out/2)].
    Parameters (with biases): ``c_in c_in/4 + c_in/4`` + ``2 (c_in/4 c_out/2 + c_out/2)`` +
    ``9 c_in/4 + c_in/4``; 2,288 at 64 -> 64, 632 at 32 -> 32.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_in % 4 or c_out % 2:
            raise ValueError(f"LIST needs c_in divisible by 4 and an even c_out, got {c_in} -> {c_out}")
        squeezed, half = c_in // 4, c_out // 2
        self.squeeze = nn.Conv2d(c_in, squeezed, 1)
        self.branch_1x1 = nn.Conv2d(squeezed, half, 1)
        self.branch_3x3 = DepthwiseSeparableConv(squeezed, half, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stream = self.squeeze(x)
        return torch.cat([self.branch_3x3(stream), self.branch_1x1(stream)], dim=1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (g, c/g) -> (c/g, g) in the channel axis (reshape + transpose)."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class GSAT(nn.Module):
    """GSAT block (drop-in for a dilated 3x3 conv + ReLU with as many outputs as inputs).

    y = ReLU(x + BN(grouped_1x1(shuffle(grouped_dilated_3x3(x))))), ``groups`` groups (8 in the
    paper). Parameters: ``9 c^2/g + c`` + ``c^2/g + c`` + ``2 c`` (BN), against ``9 c^2 + c``.
    """

    def __init__(self, channels: int, dilation: int, groups: int = 8) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"GSAT needs channels divisible by groups, got {channels} and {groups}")
        self.groups = groups
        self.dilated = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=groups)
        self.pointwise = nn.Conv2d(channels, channels, 1, groups=groups)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.pointwise(channel_shuffle(self.dilated(x), self.groups)))
        return F.relu(x + y)


class ResizeLIST(nn.Module):
    """Up- or down-sampling by a fixed ``factor`` (2 or 0.5, ...): bilinear resize, then a LIST layer.

    Replaces a transposed conv (up) or a strided conv (down). Bilinear uses half-pixel centres
    (``align_corners=False``), which TFLite's RESIZE_BILINEAR reproduces exactly.
    """

    def __init__(self, c_in: int, c_out: int, factor: float) -> None:
        super().__init__()
        self.factor = float(factor)
        self.list = LIST(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[2] * self.factor), int(x.shape[3] * self.factor)
        return self.list(F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False))


def conv3x3(c_in: int, c_out: int, kind: ConvKind = "conv", bias: bool = True) -> nn.Module:
    """A stride-1 'same' 3x3 layer: a full conv, a LIST layer or a depthwise-separable conv."""
    if kind == "conv":
        return nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
    if kind == "list":
        return LIST(c_in, c_out)
    if kind == "dsconv":
        return DepthwiseSeparableConv(c_in, c_out, 3)
    raise ValueError(f"unknown conv kind {kind!r}; expected conv, list or dsconv")
