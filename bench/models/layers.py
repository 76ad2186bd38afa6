"""Layers shared by the reference architectures: size padding, MATLAB YCbCr, SR upsamplers.

Everything here converts to TFLite with litert-torch: fixed 1x1 convolutions for colour
conversion, PAD / MIRROR_PAD + SLICE for the size padding of U-Nets, conv + PixelShuffle
(reshape/transpose) or RESIZE_BILINEAR for upsampling.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.models.interp_arch import MatlabBicubicUpsampler
from bench.models.lightweight import DepthwiseSeparableConv, ResizeLIST

UpsamplerKind = Literal["conv", "dsconv", "resize-list"]

# MATLAB rgb2ycbcr on [0, 1] RGB, outputs in [0, 1]: ycc = OFFSET + MATRIX @ rgb
YCC_MATRIX = (
    np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64)
    / 255.0
)
YCC_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad H and W at the bottom/right up to a multiple of ``multiple`` (no-op when they are).

    The pad sizes are Python ints from the (static) input shape, so a traced graph holds
    constants; a shape that needs no padding adds no op at all.
    """
    pad_h, pad_w = -x.shape[2] % multiple, -x.shape[3] % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    if pad_h >= x.shape[2] or pad_w >= x.shape[3]:  # reflection needs a pad smaller than the size
        return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")


def crop_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The top-left ``height`` x ``width`` of ``x`` (undoes :func:`pad_to_multiple`, scaled)."""
    if x.shape[2] == height and x.shape[3] == width:
        return x
    return x[:, :, :height, :width]


class ResidualUNet(nn.Module):
    """The forward pass shared by the deblurring U-Nets; subclasses build the layers.

    ``head`` ; per level: ``encoders[i]`` (kept as the skip), ``downs[i]`` ; ``bottleneck`` ; per level
    back up: ``decoders[i](merge(i, ups[i](y), skip_i))`` ; output = input + ``tail``. The input is
    reflect-padded to a multiple of ``multiple`` and the output cropped back.
    """

    multiple: int
    head: nn.Module
    encoders: nn.ModuleList
    downs: nn.ModuleList
    bottleneck: nn.Module
    ups: nn.ModuleList
    decoders: nn.ModuleList
    tail: nn.Module

    def merge(self, level: int, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """How a decoder level joins the up-sampled features and the skip (an addition by default)."""
        return up + skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2], x.shape[3]
        inp = pad_to_multiple(x, self.multiple)
        y = self.head(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for i in reversed(range(len(self.ups))):
            y = self.decoders[i](self.merge(i, self.ups[i](y), skips[i]))
        return crop_to(inp + self.tail(y), height, width)


class FixedAffine(nn.Module):
    """A fixed per-pixel affine colour map (a 1x1 conv whose constants are buffers, not parameters)."""

    def __init__(self, matrix: np.ndarray, offset: np.ndarray) -> None:
        super().__init__()
        weight = torch.from_numpy(matrix.astype(np.float32)).reshape(*matrix.shape, 1, 1)
        self.register_buffer("weight", weight, persistent=False)  # derived constants: never in a state dict
        self.register_buffer("bias", torch.from_numpy(offset.astype(np.float32)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight: torch.Tensor = self.weight  # type: ignore[assignment]  # registered buffers
        bias: torch.Tensor = self.bias  # type: ignore[assignment]
        return F.conv2d(x, weight, bias)


def rgb_to_ycbcr() -> FixedAffine:
    """MATLAB ``rgb2ycbcr`` (BT.601, Y in 16/255..235/255) on [0, 1] RGB."""
    return FixedAffine(YCC_MATRIX, YCC_OFFSET)


def ycbcr_to_rgb() -> FixedAffine:
    """The exact inverse of :func:`rgb_to_ycbcr` (computed in float64)."""
    inverse = np.linalg.inv(YCC_MATRIX)
    return FixedAffine(inverse, -inverse @ YCC_OFFSET)


class LumaSR(nn.Module):
    """Run a one-channel SR network on the MATLAB Y channel; Cb and Cr get MATLAB bicubic upsampling.

    The setting of the FSRCNN and ESPCN papers (their Set5 numbers are on Y), wrapped so that
    the model still takes and returns RGB in [0, 1].
    """

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.to_ycc, self.to_rgb = rgb_to_ycbcr(), ycbcr_to_rgb()
        self.net = net
        self.chroma = MatlabBicubicUpsampler(scale, channels=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ycc = self.to_ycc(x)
        luma = self.net(ycc[:, :1])
        return self.to_rgb(torch.cat([luma, self.chroma(ycc[:, 1:])], dim=1))


class MeanShift(nn.Module):
    """Add ``sign`` times a fixed RGB mean (EDSR's MeanShift, on [0, 1] data)."""

    def __init__(self, mean: tuple[float, float, float], sign: float) -> None:
        super().__init__()
        self.register_buffer("shift", sign * torch.tensor(mean).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shift: torch.Tensor = self.shift  # type: ignore[assignment]  # a registered buffer
        return x + shift


DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def upsampler(kind: UpsamplerKind, channels: int, scale: int) -> nn.Sequential:
    """Feature upsampling by ``scale`` keeping ``channels`` (EDSR's tail before its last conv).

    * ``conv``: 3x3 conv to ``s^2 C`` channels + PixelShuffle(s) (scale 4: two x2 stages);
    * ``dsconv``: the same with a depthwise-separable conv (the paper's negative control);
    * ``resize-list``: bilinear resize by ``s`` + a LIST layer (the paper's up-sampling module).
    """
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
    if kind not in ("conv", "dsconv", "resize-list"):
        raise ValueError(f"unknown upsampler {kind!r}; expected conv, dsconv or resize-list")
    if kind == "resize-list":
        return nn.Sequential(ResizeLIST(channels, channels, float(scale)))
    stages = [2, 2] if scale == 4 else [scale]
    layers: list[nn.Module] = []
    for s in stages:
        out = channels * s * s
        conv = nn.Conv2d(channels, out, 3, padding=1) if kind == "conv" else DepthwiseSeparableConv(channels, out, 3)
        layers += [conv, nn.PixelShuffle(s)]
    return nn.Sequential(*layers)


UNetUpKind = Literal["pixelshuffle", "deconv", "bilinear"]


class BilinearUp(nn.Module):
    """x2 bilinear resize, then a 1x1 conv to ``c_out`` channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[2] * 2, x.shape[3] * 2)
        return self.conv(F.interpolate(x, size=size, mode="bilinear", align_corners=False))


def unet_up(c_in: int, c_out: int, kind: UNetUpKind) -> nn.Module:
    """A U-Net's x2 up-sampling to ``c_out`` channels: 1x1 conv + PixelShuffle(2) (depth-to-space),
    a 2x2 stride-2 transposed conv, or bilinear resize + 1x1 conv."""
    if kind == "pixelshuffle":
        return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 1), nn.PixelShuffle(2))
    if kind == "deconv":
        return nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
    if kind == "bilinear":
        return BilinearUp(c_in, c_out)
    raise ValueError(f"unknown up-sampling {kind!r}; expected pixelshuffle, deconv or bilinear")
