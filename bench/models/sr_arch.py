"""Super-resolution reference architectures: FSRCNN, ESPCN, EDSR-baseline, WDSR-B, and LIST variants.

All take RGB in [0, 1] (N x 3 x H x W) and return N x 3 x sH x sW. Parameter counts (x2, default
arguments; ``tests/test_models_sr.py`` checks them):

==================  ==========  ===========================================================
architecture        params      notes
==================  ==========  ===========================================================
fsrcnn (y, ps)      10,292      d=56, s=12, m=4, PReLU; conv3x3 + PixelShuffle upsampler
fsrcnn (y, deconv)  12,809      the paper's 9x9 transposed conv (FSRCNN's ~12K, + PReLU slopes)
fsrcnn-list (y)     5,528       the four 3x3 mapping convs replaced by LIST layers
espcn (y)           21,284      5x5 -> 64, 3x3 -> 32, 3x3 -> s^2, tanh, PixelShuffle
edsr-baseline       1,369,859   16 resblocks, 64 ch, res_scale 1 (EDSR-PyTorch's count)
edsr-dsconv         1,239,427   upsampler conv replaced by a depthwise-separable conv
edsr-resize-list    1,224,435   upsampler = bilinear x2 + LIST (64 -> 64)
edsr-list           115,955     LIST resblocks + bilinear x2 + LIST upsampler (bench optimize lightweight)
wdsr-b              299,564     16 blocks, 32 ch, expansion 6, low-rank 0.8, no weight norm
==================  ==========  ===========================================================

``colour='y'`` (FSRCNN, ESPCN, the papers' setting) runs the network on MATLAB's Y channel and
upsamples Cb/Cr with MATLAB bicubic (:class:`~bench.models.layers.LumaSR`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from bench.models.layers import DIV2K_MEAN, LumaSR, MeanShift, UpsamplerKind, upsampler
from bench.models.lightweight import ConvKind, DepthwiseSeparableConv, conv3x3
from bench.models.registry import register_model
from bench.models.subpixel import SubpixelConvTranspose2d

Colour = Literal["y", "rgb"]
FSRCNNUpsample = Literal["pixelshuffle", "deconv", "deconv-subpixel"]


def _check_scale(scale: int) -> int:
    if int(scale) not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
    return int(scale)


def paper_init(model: nn.Module, last: nn.Module) -> None:
    """FSRCNN's initialisation (also used for ESPCN): He-normal convs, the last layer N(0, 0.001), zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | SubpixelConvTranspose2d):
            weight, bias = module.weight, module.bias
            out_channels = weight.shape[0] if isinstance(module, nn.Conv2d) else weight.shape[1]  # C_in x C_out x k x k
            fan_out = out_channels * weight.shape[2] * weight.shape[3]
            nn.init.normal_(weight, 0.0, 0.001 if module is last else math.sqrt(2.0 / fan_out))
            if bias is not None:
                nn.init.zeros_(bias)


def _activation(kind: str, channels: int) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(channels)
    if kind == "relu":
        return nn.ReLU()
    raise ValueError(f"unknown activation {kind!r}; expected prelu or relu")


class FSRCNN(nn.Module):
    """FSRCNN (Dong et al., ECCV 2016) on ``channels`` channels.

    feature 5x5 (C -> d), shrink 1x1 (d -> s), m x mapping 3x3 (s -> s), expand 1x1 (s -> d), each
    followed by PReLU; then the upsampler:

    * ``pixelshuffle`` (default): 3x3 conv (d -> C s^2) + PixelShuffle, which converts to TFLite
      and runs in XNNPACK;
    * ``deconv``: the paper's 9x9 transposed conv with stride s, written as a transposed conv
      without padding followed by a crop (equal to padding 4 + output_padding s - 1, which
      litert-torch cannot lower). It converts, but TRANSPOSE_CONV falls back to slow reference
      kernels in XNNPACK (see ``docs/models.md``);
    * ``deconv-subpixel``: the same 9x9 transposed conv (same parameters and state-dict keys, the
      same function to float rounding) computed as a 5x5 conv to C s^2 channels + PixelShuffle
      (:class:`~bench.models.subpixel.SubpixelConvTranspose2d`), which XNNPACK runs.

    The input is shifted by -0.5 and the output by +0.5 (EDSR's mean shift with a fixed mean): the
    same function class, but centred data train much faster from the paper's initialisation.
    """

    def __init__(
        self,
        scale: int,
        channels: int = 1,
        d: int = 56,
        s: int = 12,
        m: int = 4,
        upsample: FSRCNNUpsample = "pixelshuffle",
        act: str = "prelu",
        mapping: ConvKind = "conv",
    ) -> None:
        super().__init__()
        self.scale = _check_scale(scale)
        layers: list[nn.Module] = [nn.Conv2d(channels, d, 5, padding=2), _activation(act, d)]
        layers += [nn.Conv2d(d, s, 1), _activation(act, s)]
        for _ in range(m):
            layers += [conv3x3(s, s, mapping), _activation(act, s)]
        layers += [nn.Conv2d(s, d, 1), _activation(act, d)]
        self.body = nn.Sequential(*layers)
        self.upsample = upsample
        if upsample == "pixelshuffle":
            last: nn.Module = nn.Conv2d(d, channels * self.scale**2, 3, padding=1)
            self.up: nn.Module = nn.Sequential(last, nn.PixelShuffle(self.scale))
        elif upsample == "deconv":
            last = self.up = nn.ConvTranspose2d(d, channels, 9, stride=self.scale)
        elif upsample == "deconv-subpixel":
            last = self.up = SubpixelConvTranspose2d(d, channels, 9, self.scale, crop=4)
        else:
            raise ValueError(f"unknown upsample {upsample!r}; expected pixelshuffle, deconv or deconv-subpixel")
        paper_init(self, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.up(self.body(x - 0.5))
        if self.upsample == "deconv":  # full output (H-1)s + 9: keep rows 4 .. 4 + Hs
            out = out[:, :, 4 : 4 + x.shape[2] * self.scale, 4 : 4 + x.shape[3] * self.scale]
        return out + 0.5


def _luma_or_rgb(colour: Colour, scale: int, make: type[nn.Module], **kwargs: object) -> nn.Module:
    if colour == "y":
        return LumaSR(make(scale, channels=1, **kwargs), scale)
    if colour == "rgb":
        return make(scale, channels=3, **kwargs)
    raise ValueError(f"unknown colour {colour!r}; expected y or rgb")


@register_model(
    "fsrcnn",
    task_args=("scale",),
    test_args={"scale": 2, "m": 1},
    test_variants={"deconv-subpixel": {"scale": 3, "m": 1, "upsample": "deconv-subpixel"}},
)
def fsrcnn(scale: int, colour: Colour = "y", **args: Any) -> nn.Module:
    """FSRCNN (d=56, s=12, m=4) on Y with bicubic chroma; conv + PixelShuffle upsampler by default.

    ``args`` are :class:`FSRCNN`'s: ``d``, ``s``, ``m``, ``upsample``, ``act``, ``mapping``.
    """
    return _luma_or_rgb(colour, scale, FSRCNN, **args)


@register_model("fsrcnn-list", task_args=("scale",), test_args={"scale": 3, "m": 1})
def fsrcnn_list(scale: int, **args: Any) -> nn.Module:
    """FSRCNN with its 3x3 mapping convs replaced by LIST layers (Lahiri et al.)."""
    return fsrcnn(scale, **args, mapping="list")


class ESPCN(nn.Module):
    """ESPCN (Shi et al., CVPR 2016): 5x5 (C -> 64) tanh, 3x3 (64 -> 32) tanh, 3x3 (32 -> C s^2), PixelShuffle.

    ``head='dsconv'`` makes the last layer a depthwise-separable conv (the negative control of
    Lahiri et al.); ``act='relu'`` swaps tanh for ReLU. Input and output are shifted by -0.5 / +0.5
    and the weights initialised as for FSRCNN (:func:`paper_init`).
    """

    def __init__(
        self, scale: int, channels: int = 1, features: tuple[int, int] = (64, 32), head: str = "conv", act: str = "tanh"
    ) -> None:
        super().__init__()
        self.scale = _check_scale(scale)
        f1, f2 = features
        activation: type[nn.Module] = {"tanh": nn.Tanh, "relu": nn.ReLU}[act]
        out = channels * self.scale**2
        if head not in ("conv", "dsconv"):
            raise ValueError(f"unknown head {head!r}; expected conv or dsconv")
        last = nn.Conv2d(f2, out, 3, padding=1) if head == "conv" else DepthwiseSeparableConv(f2, out, 3)
        self.net = nn.Sequential(
            nn.Conv2d(channels, f1, 5, padding=2), activation(), nn.Conv2d(f1, f2, 3, padding=1), activation(),
            last, nn.PixelShuffle(self.scale),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_model("espcn", task_args=("scale",))
def espcn(scale: int, colour: Colour = "y", head: str = "conv", act: str = "tanh") -> nn.Module:
    """ESPCN (64/32 features, tanh, sub-pixel conv) on Y with bicubic chroma."""
    return _luma_or_rgb(colour, scale, ESPCN, head=head, act=act)


class ResBlock(nn.Module):
    """EDSR residual block: x + res_scale * conv(ReLU(conv(x))), no batch norm."""

    def __init__(self, channels: int, res_scale: float = 1.0, kind: ConvKind = "conv") -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels, kind), nn.ReLU(), conv3x3(channels, channels, kind))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        return x + (res * self.res_scale if self.res_scale != 1.0 else res)


class EDSR(nn.Module):
    """EDSR (Lim et al., CVPRW 2017): mean shift, head 3x3, resblocks, body 3x3 + long skip, upsampler, tail 3x3."""

    def __init__(
        self,
        scale: int,
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        upsampler_kind: UpsamplerKind = "conv",
        block: ConvKind = "conv",
    ) -> None:
        super().__init__()
        self.sub_mean, self.add_mean = MeanShift(DIV2K_MEAN, -1.0), MeanShift(DIV2K_MEAN, 1.0)
        self.head = nn.Conv2d(3, n_feats, 3, padding=1)
        self.body = nn.Sequential(
            *[ResBlock(n_feats, res_scale, block) for _ in range(n_resblocks)],
            nn.Conv2d(n_feats, n_feats, 3, padding=1),
        )
        self.tail = nn.Sequential(
            upsampler(upsampler_kind, n_feats, _check_scale(scale)), nn.Conv2d(n_feats, 3, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(features + self.body(features)))


@register_model("edsr-baseline", task_args=("scale",), test_args={"scale": 4, "n_resblocks": 1, "n_feats": 16})
def edsr_baseline(
    scale: int, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0, upsampler: UpsamplerKind = "conv"
) -> nn.Module:
    """EDSR-baseline: 16 resblocks, 64 channels, res_scale 1, conv + PixelShuffle upsampler (x2/3/4)."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, upsampler)


@register_model("edsr-dsconv", task_args=("scale",), test_args={"scale": 2, "n_resblocks": 1, "n_feats": 16})
def edsr_dsconv(scale: int, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0) -> nn.Module:
    """EDSR-baseline whose pixel shuffle is fed by a depthwise-separable conv (negative control)."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, "dsconv")


@register_model("edsr-list", task_args=("scale",), test_args={"scale": 2, "n_resblocks": 1, "n_feats": 16})
def edsr_list(scale: int, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0) -> nn.Module:
    """EDSR-baseline with LIST resblocks and bilinear + LIST upsampling (Lahiri et al.'s full rewrite)."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, "resize-list", block="list")


@register_model("edsr-resize-list", task_args=("scale",), test_args={"scale": 2, "n_resblocks": 1, "n_feats": 16})
def edsr_resize_list(scale: int, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0) -> nn.Module:
    """EDSR-baseline upsampling by bilinear resize + LIST instead of conv + pixel shuffle."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, "resize-list")


class WDSRBlock(nn.Module):
    """WDSR-B block: 1x1 (C -> 6C) ReLU, 1x1 (6C -> 0.8C, linear low-rank), 3x3 (0.8C -> C), + x."""

    def __init__(self, channels: int, expansion: int = 6, low_rank: float = 0.8, res_scale: float = 1.0) -> None:
        super().__init__()
        wide, narrow = channels * expansion, int(channels * low_rank)
        self.body = nn.Sequential(
            nn.Conv2d(channels, wide, 1),
            nn.ReLU(),
            nn.Conv2d(wide, narrow, 1),
            nn.Conv2d(narrow, channels, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        return x + (res * self.res_scale if self.res_scale != 1.0 else res)


class WDSRB(nn.Module):
    """WDSR-B (Yu et al. 2018): head 3x3, blocks, tail 3x3 -> 3 s^2 + PixelShuffle, plus a 5x5 skip branch.

    Weight normalisation (used by the authors to train with a larger learning rate) is left
    out so the weights are plain convs that every converter takes.
    """

    def __init__(
        self, scale: int, n_resblocks: int = 16, n_feats: int = 32, expansion: int = 6, low_rank: float = 0.8,
        res_scale: float = 1.0,
    ) -> None:  # fmt: skip
        super().__init__()
        s = _check_scale(scale)
        self.sub_mean, self.add_mean = MeanShift(DIV2K_MEAN, -1.0), MeanShift(DIV2K_MEAN, 1.0)
        self.head = nn.Conv2d(3, n_feats, 3, padding=1)
        self.body = nn.Sequential(*[WDSRBlock(n_feats, expansion, low_rank, res_scale) for _ in range(n_resblocks)])
        self.tail = nn.Sequential(nn.Conv2d(n_feats, 3 * s * s, 3, padding=1), nn.PixelShuffle(s))
        self.skip = nn.Sequential(nn.Conv2d(3, 3 * s * s, 5, padding=2), nn.PixelShuffle(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sub_mean(x)
        return self.add_mean(self.tail(self.body(self.head(x))) + self.skip(x))


@register_model("wdsr-b", task_args=("scale",), test_args={"scale": 3, "n_resblocks": 1, "n_feats": 16})
def wdsr_b(
    scale: int, n_resblocks: int = 16, n_feats: int = 32, expansion: int = 6, low_rank: float = 0.8,
    res_scale: float = 1.0,
) -> nn.Module:  # fmt: skip
    """WDSR-B: wide-activation low-rank blocks (16 x 32 ch, x6 expansion), conv + PixelShuffle tail."""
    return WDSRB(scale, n_resblocks, n_feats, expansion, low_rank, res_scale)
