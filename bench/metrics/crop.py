"""Border cropping (metric side) and mod-cropping (ground-truth side)."""

from __future__ import annotations

import numpy as np


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels from each of the four sides of an H x W (x C) image."""
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    if border == 0:
        return image
    h, w = image.shape[:2]
    if h <= 2 * border or w <= 2 * border:
        raise ValueError(f"image of {h}x{w} is too small to crop {border} pixels from every side")
    return image[border : h - border, border : w - border, ...]


def mod_crop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so that H and W are multiples of ``scale`` (BasicSR ``mod_crop``)."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale, ...]
