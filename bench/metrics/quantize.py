"""Turning a model's float output into the uint8 image that every metric sees.

BasicSR's ``tensor2img``, KAIR's ``tensor2uint`` and the NTIRE scoring kits all do::

    out_uint8 = round(clip(out, 0, 1) * 255)

Clamping happens *before* the cast, so 1.004 becomes 255 (never wraps to 0) and -0.1 becomes 0.
Rounding is numpy's ``rint`` (half to even), which is what ``np.ndarray.round`` does in those kits.
A non-finite value is an error, not something to clamp: NaN has no meaningful place in [0, 1].
"""

from __future__ import annotations

import numpy as np


class NonFiniteOutput(ValueError):
    """The model produced NaN or +-Inf values."""


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Clamp a float image in nominal range [0, 1] to [0, 1], scale by 255 and round to uint8.

    Raises :class:`NonFiniteOutput` if any value is NaN or infinite.
    """
    if image.dtype == np.uint8:
        return image
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(values.size - np.count_nonzero(finite))
        raise NonFiniteOutput(f"model output has {bad} non-finite values (NaN or Inf) of {values.size}")
    return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
