"""Representative images for post-training quantisation, from a folder of training-side images.

Never a test set: the README points at ``../shared/datasets/CSun_Hays80`` (training photos).
Images are read in name order, centre-cropped to the model's input size (an image smaller than
that is skipped) and returned as NCHW float32 in [0, 1]; at most ``count`` of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.images import list_images, read_image


def calibration_images(folder: Path, shape: tuple[int, ...], count: int = 16) -> list[np.ndarray]:
    """Up to ``count`` centre crops of the NCHW ``shape`` (C = 1 or 3) from the images in ``folder``."""
    _, channels, height, width = shape
    crops: list[np.ndarray] = []
    for path in list_images(folder):
        image = read_image(path)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.shape[0] < height or image.shape[1] < width:
            continue
        top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
        crop = image[top : top + height, left : left + width, :channels]
        crops.append((crop.transpose(2, 0, 1)[None] / 255.0).astype(np.float32))
        if len(crops) == count:
            break
    if not crops:
        raise FileNotFoundError(f"no calibration image of at least {width}x{height} in {folder}")
    return crops
