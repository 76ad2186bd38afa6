"""Builders of tiny look-alike data sets in each official layout (made from the embedded images).

Each builder writes under ``root`` and returns the data root to pass as ``--data-root``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.degradations import convolve
from bench.data.images import list_images, read_image, write_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT


def scene_crops(size: tuple[int, int] = (48, 64), count: int = 4) -> list[np.ndarray]:
    """``count`` real-photo crops of H x W = ``size`` from the embedded scenes (uint8 RGB)."""
    crops = []
    for path in list_images(EMBEDDED_ROOT / "scenes"):
        image = read_image(path)
        for top in (0, 100):
            crops.append(np.ascontiguousarray(image[top : top + size[0], 40 : 40 + size[1]]))
    return crops[:count]


def box_blur(image: np.ndarray) -> np.ndarray:
    blurred = convolve(image.astype(np.float64), np.full((5, 5), 1 / 25))
    return np.clip(np.floor(blurred + 0.5), 0, 255).astype(np.uint8)


def gopro(root: Path) -> Path:
    crops = scene_crops()
    for s, sequence in enumerate(("GOPR0384_11_00", "GOPR0862_11_00")):
        for f in range(2):
            sharp = crops[2 * s + f]
            name = f"{f + 1:06d}.png"
            write_image(root / "GOPRO_Large/test" / sequence / "sharp" / name, sharp)
            write_image(root / "GOPRO_Large/test" / sequence / "blur" / name, box_blur(sharp))
            write_image(root / "GOPRO_Large/test" / sequence / "blur_gamma" / name, box_blur(sharp))
    return root


def reds(root: Path) -> Path:
    crops = scene_crops(count=8)
    for split, clips in (("val", ("000", "001")), ("train", ("000", "011", "015", "020"))):
        for c, clip in enumerate(clips):
            for f in range(2 if split == "val" else 1):
                sharp = crops[(c * 2 + f) % len(crops)]
                name = f"{f:08d}"
                write_image(root / f"REDS/{split}/{split}_sharp/{clip}/{name}.png", sharp)
                write_image(root / f"REDS/{split}/{split}_blur/{clip}/{name}.png", box_blur(sharp))
                jpeg = root / f"REDS/{split}/{split}_blur_jpeg/{clip}/{name}.jpg"
                jpeg.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(box_blur(sharp)).save(jpeg, quality=90)
    return root


def div2k(root: Path) -> Path:
    for i, hr in enumerate(scene_crops(size=(48, 72), count=3)):
        image_id = f"{801 + i:04d}"
        write_image(root / "DIV2K/DIV2K_valid_HR" / f"{image_id}.png", hr)
        for scale in (2, 3, 4):
            write_image(root / f"DIV2K/DIV2K_valid_LR_bicubic/X{scale}/{image_id}x{scale}.png", imresize(hr, 1 / scale))
    return root


def image_folder(root: Path, folder: str, grey: bool = False, count: int = 3) -> Path:
    for i, image in enumerate(scene_crops(size=(40, 40), count=count)):
        pixels = np.asarray(Image.fromarray(image).convert("L")) if grey else image
        write_image(root / folder / f"img{i:03d}.png", pixels)
    return root


def sidd(root: Path) -> Path:
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    clean = np.stack([np.stack(scene_crops(size=(32, 32), count=3)) for _ in range(2)])  # 2 x 3 x 32 x 32 x 3
    noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    (root / "SIDD").mkdir(parents=True, exist_ok=True)
    savemat(root / "SIDD/ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean})
    savemat(root / "SIDD/ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    return root


def nvidia_masks(root: Path, per_bin: int = 2, size: int = 64) -> Path:
    """``per_bin`` masks per hole-ratio bin (white = hole), named in bin order like the official set."""
    index = 0
    for k in range(1, 7):
        for j in range(per_bin):
            ratio = (k - 1) * 0.1 + 0.03 + 0.04 * j  # inside bin k
            mask = np.zeros((size, size), dtype=np.uint8)
            mask.reshape(-1)[: round(ratio * size * size)] = 255
            write_image(root / "NVIDIA-masks/testing_mask_dataset" / f"{index:05d}.png", mask)
            index += 1
    for i, image in enumerate(scene_crops(size=(32, 32), count=3)):
        write_image(root / "Places2/val_256" / f"Places365_val_{i + 1:08d}.png", image)
    return root
