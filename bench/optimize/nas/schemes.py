"""Fine-grained pruning schemes as weight masks: 3x3 kernel patterns (PatDNN-style) and 8x4 blocks.

Both keep the layer's shape; the mask is chosen from the weights' magnitudes (saliency = squared
weights kept). ``filter`` pruning needs no mask: it builds a narrower layer (see ``space.kept``).

* :func:`pattern_mask`: every 3x3 kernel keeps the 4 weights of the pattern (from :data:`PATTERNS`,
  8 patterns that all hold the centre) with the largest kept energy; then connectivity pruning
  removes the ``ratio`` fraction of whole kernels with the least energy left.
* :func:`block_mask`: the weight as a [C_out, C_in k k] matrix is tiled into 8 x 4 blocks (rows x
  columns; partial blocks at the edges); the ``ratio`` fraction of blocks with the least energy is
  zeroed.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize


def _pattern(*cells: tuple[int, int]) -> torch.Tensor:
    mask = torch.zeros(3, 3)
    for r, c in ((1, 1), *cells):
        mask[r, c] = 1.0
    return mask


_UP, _DOWN, _LEFT, _RIGHT = (0, 1), (2, 1), (1, 0), (1, 2)
PATTERNS = torch.stack([
    _pattern(_UP, _LEFT, _RIGHT), _pattern(_DOWN, _LEFT, _RIGHT), _pattern(_UP, _DOWN, _LEFT),
    _pattern(_UP, _DOWN, _RIGHT), _pattern(_UP, _LEFT, (0, 0)), _pattern(_UP, _RIGHT, (0, 2)),
    _pattern(_DOWN, _LEFT, (2, 0)), _pattern(_DOWN, _RIGHT, (2, 2)),
])  # fmt: skip


def pattern_mask(weight: torch.Tensor, ratio: float) -> torch.Tensor:
    """0/1 mask of ``weight`` [O, I, 3, 3]: the best 4-of-9 pattern per kernel, ``ratio`` of kernels removed."""
    if weight.dim() != 4 or weight.shape[-2:] != (3, 3):
        raise ValueError(f"pattern pruning takes 3x3 kernels, got weight of shape {tuple(weight.shape)}")
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"ratio must be in [0, 1), got {ratio}")
    energy = weight.detach().float().pow(2)
    patterns = PATTERNS.to(energy.device)
    kept = torch.einsum("oihw,phw->oip", energy, patterns)  # energy each pattern keeps, per kernel
    mask = patterns[kept.argmax(dim=-1)]  # [O, I, 3, 3]
    remove = math.floor(ratio * mask.shape[0] * mask.shape[1])
    if remove:
        left = (energy * mask).sum(dim=(2, 3)).flatten()
        mask.view(-1, 9)[left.argsort()[:remove]] = 0.0
    return mask


def block_mask(weight: torch.Tensor, ratio: float, rows: int = 8, cols: int = 4) -> torch.Tensor:
    """0/1 mask of ``weight`` [O, I, k, k] zeroing the ``ratio`` fraction of its ``rows`` x ``cols`` blocks."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"ratio must be in [0, 1), got {ratio}")
    out_ch = weight.shape[0]
    matrix = weight.detach().float().reshape(out_ch, -1).pow(2)
    n_rows, n_cols = math.ceil(out_ch / rows), math.ceil(matrix.shape[1] / cols)
    padded = torch.zeros(n_rows * rows, n_cols * cols, device=matrix.device)
    padded[:out_ch, : matrix.shape[1]] = matrix
    energy = padded.reshape(n_rows, rows, n_cols, cols).sum(dim=(1, 3)).flatten()
    block_keep = torch.ones_like(energy)
    remove = math.floor(ratio * energy.numel())
    if remove:
        block_keep[energy.argsort()[:remove]] = 0.0
    grid = block_keep.reshape(n_rows, 1, n_cols, 1).expand(n_rows, rows, n_cols, cols).reshape(n_rows * rows, -1)
    return grid[:out_ch, : matrix.shape[1]].reshape(weight.shape).to(weight.dtype)


MASKS = {"pattern": pattern_mask, "block": block_mask}


def scheme_mask(weight: torch.Tensor, scheme: str, ratio: float) -> torch.Tensor:
    """The mask of ``scheme`` (``pattern`` or ``block``) at ``ratio`` for ``weight``."""
    if scheme not in MASKS:
        raise ValueError(f"no mask for scheme {scheme!r}; expected one of {', '.join(MASKS)}")
    return MASKS[scheme](weight, ratio)


class FixedMask(nn.Module):
    """A parametrization multiplying a weight by a fixed 0/1 mask (the zeros stay zero while fine-tuning)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mask: torch.Tensor = self.mask  # type: ignore[assignment]  # a registered buffer
        return weight * mask


def attach_mask(conv: nn.Conv2d, mask: torch.Tensor) -> None:
    parametrize.register_parametrization(conv, "weight", FixedMask(mask.to(conv.weight.device)))


def bake_masks(model: nn.Module) -> None:
    """Remove every :class:`FixedMask`, leaving the masked weights (zeros included) as plain parameters."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
