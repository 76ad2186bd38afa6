"""MATLAB ``rgb2ycbcr`` luma (ITU-R BT.601), as used by the SR literature.

With R, G, B in [0, 255]::

    Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255        (range 16 .. 235)

This is *not* OpenCV's ``COLOR_RGB2YCrCb`` (which gives full-range Y = 0.299 R + 0.587 G + 0.114 B).
BasicSR keeps Y in float (``rounding="none"``); MATLAB's ``rgb2ycbcr`` on a uint8 image returns
uint8, i.e. Y rounded half away from zero (``rounding="matlab"``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0

YRounding = Literal["none", "matlab"]


def rgb_to_y(image: np.ndarray, rounding: YRounding = "none") -> np.ndarray:
    """Return the BT.601 luma of an H x W x 3 RGB image with values in [0, 255], as float64 H x W."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"rgb_to_y needs an H x W x 3 image, got shape {image.shape}")
    y = image.astype(np.float64) @ _Y_WEIGHTS + 16.0
    if rounding == "matlab":
        y = np.floor(y + 0.5)  # y > 0, so this is MATLAB's round-half-away-from-zero
    return y
