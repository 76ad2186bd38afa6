"""Peak signal-to-noise ratio.

For two images of the same shape with peak value 255::

    MSE  = mean((a - b)^2)     in float64, over every pixel and channel of one image
    PSNR = 10 log10(255^2 / MSE)   [dB]

A data set's score is the mean of the per-image PSNRs (not the PSNR of the mean MSE).

Identical images have MSE = 0 and an infinite PSNR. We report :data:`PSNR_IDENTICAL_DB` = 100 dB
instead (so that results stay finite and valid JSON); no two different 8-bit images of fewer than
6.5e9 values can score that high, since the smallest nonzero MSE is 1 / (number of values).
"""

from __future__ import annotations

import math

import numpy as np

PSNR_IDENTICAL_DB = 100.0


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error in float64 over all values."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of ``a`` against ``b`` (values in [0, peak]); identical images give 100 dB."""
    error = mse(a, b)
    if error == 0.0:
        return PSNR_IDENTICAL_DB
    return min(PSNR_IDENTICAL_DB, 10.0 * math.log10(peak * peak / error))
