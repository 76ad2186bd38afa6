"""Image-quality metrics computed exactly as the restoration community's reference code does.

One small module each: :mod:`quantize` (model output -> uint8), :mod:`color` (MATLAB Y channel),
:mod:`crop`, :mod:`psnr`, :mod:`ssim`, :mod:`lpips`, and :mod:`protocol`, which applies a task's
metric protocol to one (output, target) pair.
"""

from bench.metrics.color import rgb_to_y
from bench.metrics.crop import crop_border, mod_crop
from bench.metrics.psnr import PSNR_IDENTICAL_DB, psnr
from bench.metrics.quantize import to_uint8
from bench.metrics.ssim import ssim

__all__ = ["PSNR_IDENTICAL_DB", "crop_border", "mod_crop", "psnr", "rgb_to_y", "ssim", "to_uint8"]
