"""Parameter-free baselines: MATLAB-bicubic upsampling (SR) and identity (restoration tasks)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.data.resize import contributions
from bench.models.registry import register_model


def phase_filters(scale: int) -> tuple[np.ndarray, int, int]:
    """MATLAB's bicubic upsampling by an integer ``scale`` as one 1-D filter per output phase.

    Output pixel ``s k + p`` (0-based) takes input pixels ``k + o`` with weights that depend only
    on the phase p, because the coordinate map u = x / s + 0.5 (1 - 1 / s) is periodic. Returns
    (filters: scale x taps, pad_before, pad_after): filter p's tap t applies to input offset
    ``t - pad_before``. The weights are read from :func:`contributions` far from the borders.
    """
    length = 64
    weights, indices = contributions(length, length * scale, float(scale))
    middle = length // 2
    rows = [middle * scale + p for p in range(scale)]
    offsets = indices[rows] - middle
    before, after = int(-offsets.min()), int(offsets.max())
    filters = np.zeros((scale, before + after + 1))
    for p, row in enumerate(rows):
        for tap, offset in zip(weights[row], offsets[p], strict=True):
            filters[p, offset + before] += tap
    return filters, before, after


def symmetric_pad(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """Pad H and W like MATLAB's mirror table (the edge pixel repeats): [x1 x0 | x0 .. xn | xn xn-1]."""
    for dim in (2, 3):
        n = x.shape[dim]
        head = torch.flip(x.narrow(dim, 0, before), dims=(dim,))
        tail = torch.flip(x.narrow(dim, n - after, after), dims=(dim,))
        x = torch.cat([head, x, tail], dim=dim)
    return x


class MatlabBicubicUpsampler(nn.Module):
    """Upsample N x C x H x W by an integer factor exactly as MATLAB ``imresize(x, s, 'bicubic')`` (float).

    Implemented as a fixed depthwise convolution (one 2-D filter per output phase, the outer
    product of the two 1-D phase filters) on the symmetric-padded input, then a pixel shuffle:
    the form every backend runs (ONNX, TFLite) and whose MACs are counted.
    """

    def __init__(self, scale: int, channels: int = 3) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = int(scale)
        filters, self.before, self.after = phase_filters(self.scale)
        kernel = np.einsum("pi,qj->pqij", filters, filters).reshape(scale * scale, 1, *filters.shape[1:2] * 2)
        weight = torch.from_numpy(np.tile(kernel, (channels, 1, 1, 1)).astype(np.float32))
        self.register_buffer("weight", weight, persistent=False)  # fixed, derived: never in a state dict
        self.channels = channels
        self.shuffle = nn.PixelShuffle(self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = symmetric_pad(x, self.before, self.after)
        weight: torch.Tensor = self.weight  # type: ignore[assignment]  # a registered buffer
        return self.shuffle(torch.nn.functional.conv2d(padded, weight, groups=self.channels))


class Identity(nn.Module):
    """Return the first ``channels`` input channels unchanged."""

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.channels]


@register_model("bicubic", task_args=("scale",))
def bicubic(scale: int) -> nn.Module:
    """MATLAB-compatible bicubic upsampling by the task's scale (no parameters)."""
    return MatlabBicubicUpsampler(scale)


@register_model("identity")
def identity(channels: int = 3) -> nn.Module:
    """Returns its input (the first three channels): the 'do nothing' reference for restoration."""
    return Identity(channels)
