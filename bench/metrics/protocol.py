"""Apply a task's metric protocol to one (model output, target) pair.

Steps, in the order the community's reference code applies them:

1. output float -> uint8 by clamp, x255, round (:func:`bench.metrics.quantize.to_uint8`);
2. a one-channel target is compared with the output's intensity (the mean of its RGB channels,
   rounded; exact for grey-preserving models), or, under ``grey_targets: rgb-y`` on a Y task, read as
   R = G = B and compared on Y like every colour image (the learned-model tables' convention, which
   maps [0, 255] to [16, 235] and so adds 20 log10(255 / 219) = 1.32 dB on such an image);
3. colour space: ``y`` -> MATLAB BT.601 luma of both images (float unless ``y_rounding``);
   ``rgb`` -> all channels;
4. ``crop_border`` pixels dropped from every side;
5. PSNR (float64, identical images -> ``psnr_identical_db``) and SSIM (Wang, Gaussian window)
   per image, and each further metric the task names (:mod:`bench.metrics.registry`); a data
   set's score is the mean of the per-image values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.metrics.color import rgb_to_y
from bench.metrics.crop import crop_border
from bench.metrics.psnr import PSNR_IDENTICAL_DB, psnr
from bench.metrics.quantize import to_uint8
from bench.metrics.registry import METRICS
from bench.metrics.spec import MetricSpec
from bench.metrics.ssim import ssim


class OutputShapeError(ValueError):
    """The model output does not have the target's size."""


@dataclass(frozen=True)
class ImageScore:
    """PSNR, SSIM and the further metrics the task names (``spec.extra``), by name."""

    psnr: float
    ssim: float
    extra: dict[str, float] = field(default_factory=dict)


def prepare(output: np.ndarray, target: np.ndarray, spec: MetricSpec) -> tuple[np.ndarray, np.ndarray]:
    """Both images as they enter PSNR/SSIM: uint8-rounded output, colour space, crop."""
    out = to_uint8(output)
    if out.shape[:2] != target.shape[:2]:
        raise OutputShapeError(
            f"output is {out.shape[1]}x{out.shape[0]}, target is {target.shape[1]}x{target.shape[0]}"
        )
    if target.ndim == 2 and spec.grey_targets == "rgb-y" and spec.colour == "y":
        colour_out = out if out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)
        a, b = rgb_to_y(colour_out, spec.y_rounding), rgb_to_y(np.repeat(target[..., None], 3, axis=2), spec.y_rounding)
    elif target.ndim == 2:
        grey = out if out.ndim == 2 else np.rint(out.astype(np.float64).mean(axis=2)).astype(np.uint8)
        a, b = grey.astype(np.float64), target.astype(np.float64)
    elif spec.colour == "y":
        a, b = rgb_to_y(out, spec.y_rounding), rgb_to_y(target, spec.y_rounding)
    else:
        if out.shape != target.shape:
            raise OutputShapeError(f"output has shape {out.shape}, target {target.shape}")
        a, b = out.astype(np.float64), target.astype(np.float64)
    return crop_border(a, spec.crop_border), crop_border(b, spec.crop_border)


def score_image(output: np.ndarray, target: np.ndarray, spec: MetricSpec) -> ImageScore:
    """PSNR (dB) and SSIM of one output against its target under the task's protocol."""
    a, b = prepare(output, target, spec)
    value = psnr(a, b)
    if value == PSNR_IDENTICAL_DB:
        value = spec.psnr_identical_db
    extra = {}
    for name in spec.extra:  # a metric on the protocol's pair, or on the whole uint8 RGB images
        metric = METRICS[name]
        pair = (a, b) if metric.on == "protocol" else (to_uint8(output), target)
        extra[name] = metric.function()(*pair)
    return ImageScore(psnr=value, ssim=ssim(a, b), extra=extra)
