"""Parameter-free baselines: MATLAB-bicubic upsampling (SR) and identity (restoration tasks)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from bench.data.resize import contributions
from bench.models.registry import register_model


@lru_cache(maxsize=64)
def _axis_weights(in_length: int, out_length: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    weights, indices = contributions(in_length, out_length, scale)
    return torch.from_numpy(weights.astype(np.float32)), torch.from_numpy(indices)


class MatlabBicubicUpsampler(nn.Module):
    """Upsample N x C x H x W by an integer factor exactly as MATLAB ``imresize(x, s, 'bicubic')`` (float)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = int(scale)

    def _resize(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        length = x.shape[dim]
        weights, indices = _axis_weights(length, length * self.scale, float(self.scale))
        gathered = torch.index_select(x, dim, indices.reshape(-1))  # taps interleaved per output
        shape = list(x.shape)
        shape[dim : dim + 1] = [indices.shape[0], indices.shape[1]]
        view_w = [1] * len(shape)
        view_w[dim], view_w[dim + 1] = weights.shape
        return (gathered.reshape(shape) * weights.reshape(view_w).to(x.dtype)).sum(dim + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._resize(self._resize(x, 2), 3)  # rows first, as MATLAB does for equal scales


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
