"""A strided transposed convolution computed as a low-resolution convolution plus PixelShuffle.

A ``k x k`` transposed conv of stride ``s`` whose output is cropped by ``c`` pixels at the top and
left (FSRCNN's 9x9 deconv: ``k = 9``, ``c = 4``, output ``s H x s W``) is, for every output phase
``(r_y, r_x)`` (output pixel ``(s p + r_y, s q + r_x)``), an ordinary convolution of the input:

    out[s p + r_y, s q + r_x] = b + sum_{t_y, t_x} x[p + t_y, q + t_x] . w[c + r_y - s t_y, c + r_x - s t_x]

over the taps whose index lies in ``0 .. k-1`` (Shi et al., "Is the deconvolution layer the same
as a convolutional layer?", 2016). So the ``s^2`` phases are one ``T x T`` convolution with
``C_out s^2`` output channels, whose weights are gathered from the deconv's (zeros where no tap
falls), followed by PixelShuffle(s), which puts channel ``o s^2 + r_y s + r_x`` at phase
``(r_y, r_x)`` of output channel ``o``.

:class:`SubpixelConvTranspose2d` keeps the transposed conv's parameters (``weight``:
``C_in x C_out x k x k``, ``bias``: ``C_out``, the state-dict keys and shapes of
:class:`torch.nn.ConvTranspose2d`), so weights move between the two forms unchanged, but it runs
as CONV_2D + DEPTH_TO_SPACE: XNNPACK takes both, where TFLite's TRANSPOSE_CONV falls back to
its slow reference kernel (``../shared/protocols.md`` §6, measured there: 913 ms of FSRCNN's
1068 ms at 1x360x640).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def phase_taps(kernel: int, stride: int, crop: int) -> tuple[int, int]:
    """The input offsets ``t_min .. t_max`` (inclusive) that some output phase reads, over all phases.

    Tap ``k = crop + r - stride t`` must lie in ``0 .. kernel - 1`` for some phase ``r`` in
    ``0 .. stride - 1``: ``t_min = ceil((crop - kernel + 1) / stride)`` and
    ``t_max = floor((crop + stride - 1) / stride)``.
    """
    return math.ceil((crop - kernel + 1) / stride), (crop + stride - 1) // stride


def gather_index(kernel: int, stride: int, crop: int) -> torch.Tensor:
    """``stride x stride x T x T`` long tensor: the flat ``k y * kernel + k x`` tap of each phase and offset.

    ``T = 2 max(|t_min|, |t_max|) + 1`` (a centred kernel, padding ``T // 2``); offsets that no tap
    reaches point at ``kernel**2``, an appended zero.
    """
    low, high = phase_taps(kernel, stride, crop)
    half = max(-low, high)
    size = 2 * half + 1
    index = torch.full((stride, stride, size, size), kernel * kernel, dtype=torch.long)
    for r_y in range(stride):
        for r_x in range(stride):
            for t_y in range(-half, half + 1):
                for t_x in range(-half, half + 1):
                    k_y, k_x = crop + r_y - stride * t_y, crop + r_x - stride * t_x
                    if 0 <= k_y < kernel and 0 <= k_x < kernel:
                        index[r_y, r_x, t_y + half, t_x + half] = k_y * kernel + k_x
    return index


class SubpixelConvTranspose2d(nn.Module):
    """``ConvTranspose2d(C_in, C_out, kernel, stride)`` cropped to ``[crop, crop + s H)``, run as conv + PixelShuffle.

    Equal (to float rounding) to ``ConvTranspose2d(...)(x)[:, :, crop : crop + s H, crop : crop + s W]``
    with the same ``weight`` and ``bias``; ``tests/test_models_sr.py`` checks it for scales 2, 3 and 4.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, crop: int) -> None:
        super().__init__()
        if not 0 <= crop < kernel:
            raise ValueError(f"crop must be in 0 .. kernel - 1 = {kernel - 1}, got {crop}")
        reference = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride)  # its default init
        self.weight = nn.Parameter(reference.weight.detach().clone())
        bias = reference.bias
        assert bias is not None
        self.bias = nn.Parameter(bias.detach().clone())
        self.kernel, self.stride, self.crop = kernel, stride, crop
        self.register_buffer("index", gather_index(kernel, stride, crop), persistent=False)

    def conv_weight(self) -> torch.Tensor:
        """The ``C_out s^2 x C_in x T x T`` low-resolution conv weight gathered from the transposed conv's."""
        c_in, c_out = self.weight.shape[:2]
        index: torch.Tensor = self.index  # type: ignore[assignment]  # a registered buffer
        s, size = self.stride, index.shape[-1]
        flat = torch.cat([self.weight.reshape(c_in, c_out, -1), self.weight.new_zeros(c_in, c_out, 1)], dim=2)
        taps = flat[:, :, index.reshape(-1)].reshape(c_in, c_out, s, s, size, size)
        return taps.permute(1, 2, 3, 0, 4, 5).reshape(c_out * s * s, c_in, size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        weight = self.conv_weight()
        out = F.conv2d(x, weight, self.bias.repeat_interleave(s * s), padding=weight.shape[-1] // 2)
        return F.pixel_shuffle(out, s)

    def extra_repr(self) -> str:
        c_in, c_out = self.weight.shape[:2]
        return f"{c_in}, {c_out}, kernel_size={self.kernel}, stride={self.stride}, crop={self.crop}"
