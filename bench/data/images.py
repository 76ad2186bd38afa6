"""Reading and writing images as uint8 arrays (Pillow), with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import ImageReadError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: The largest image read, in pixels (8192 x 8192; a raw camera frame of 61 MP fits): a larger header is
#: refused before decoding, since a 13,000 x 13,000 PNG of a few kilobytes decodes to over 10 GB of arrays.
MAX_PIXELS = 8192 * 8192


def check_pixels(width: int, height: int, what: object) -> None:
    """Refuse an image of ``width`` x ``height`` over :data:`MAX_PIXELS`, from its header, before decoding."""
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"image {what} is {width} x {height} = {width * height:,} pixels by its header, over the limit of "
            f"{MAX_PIXELS:,} (8192 x 8192); it was not decoded"
        )


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as uint8: H x W x 3 (RGB) for colour files, H x W for one-channel files.

    Palette and RGBA images are converted to RGB; 16-bit grey is scaled to 8 bits.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            check_pixels(*img.size, path)
            img.load()
            if img.mode in ("L", "1"):
                return np.asarray(img.convert("L"), dtype=np.uint8)
            if img.mode in ("I;16", "I;16B", "I", "I;16L"):
                values = np.asarray(img, dtype=np.float64)
                return np.rint(values / 257.0).clip(0, 255).astype(np.uint8)
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise ImageReadError(f"image file not found: {path}") from exc
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file, after fully decoding it (so truncated files are caught)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            check_pixels(*img.size, path)
            img.load()
            return img.size
    except FileNotFoundError as exc:
        raise ImageReadError(f"image file not found: {path}") from exc
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 H x W or H x W x 3 array losslessly (format from the suffix, PNG advised)."""
    if image.dtype != np.uint8:
        raise ValueError(f"write_image needs uint8, got {image.dtype}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
