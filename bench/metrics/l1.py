"""Mean absolute error in percent of the 8-bit range, as inpainting papers report their "l1 (%)"::

    L1 = 100 * mean(|a - b|) / 255      [%], in float64 over every pixel and channel of one image

(Liu et al. 2018, "Image inpainting for irregular holes using partial convolutions", table 1).
"""

from __future__ import annotations

import numpy as np


def l1_percent(a: np.ndarray, b: np.ndarray) -> float:
    """L1 error of ``a`` against ``b`` (same shape, values on the 0..255 scale), in percent."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64)))) * 100.0 / 255.0
