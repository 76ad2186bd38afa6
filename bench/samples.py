"""Sample crops of a scoring run, for the leaderboard's visual comparison (input | output | target).

:func:`make_crops` cuts the same window out of every submission's output on a given image, so
submissions can be compared side by side:

* **Window** (``box``, in target pixels ``(top, left, height, width)``): ``min(size, H)`` by
  ``min(size, W)`` pixels centred on the target's centre; ``top`` and ``left`` are rounded down
  to a multiple of the input-to-target ``scale``, so the input window maps onto it exactly.
  An image smaller than ``size`` is kept whole.
* **Output and target**: that window of the uint8-rounded output (:func:`~bench.metrics.quantize.to_uint8`,
  the values the metrics see) and of the target.
* **Input**: the matching window of the input, at the input's own resolution: rows
  ``top // scale`` to ``ceil((top + height) / scale)`` (likewise columns), clipped to the input.
  ``scale`` is the task's SR factor; ``None`` infers it from the shapes (``round(H / input H)``,
  1 for same-size inputs, 2 for the packed raw of the low-light SID task). The input is float
  (denoising inputs are not clipped), shown as ``to_uint8`` of:

  - 1 channel (grey tasks): grey;
  - 3 channels: RGB;
  - 4 channels at a smaller size than the target (SID's packed Bayer R, G1, B, G2 at half
    resolution, linear): a preview ``(R, (G1 + G2) / 2, B) ** (1 / 2.2)``, no white balance;
  - 4 channels at the target's size (inpainting: RGB with holes set to 0, then the mask): the
    first 3 channels, i.e. what the model sees with the holes black (the mask channel is dropped);
  - any other count: the first channel (2) or the first 3 (5 or more).

A one-channel image (H x W or H x W x 1) becomes a greyscale PNG ("L"), three channels an RGB PNG;
Pillow's PNG is lossless, so decoding gives back the uint8 crops exactly. Only the encoded crops
are kept (100-270 kB for the three PNGs of one image; see docs/results.md), never whole images.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench.metrics.quantize import to_uint8

DEFAULT_SIZE = 192  # target pixels; a multiple of 2, 3 and 4, so SR input windows are whole pixels
RAW_PREVIEW_GAMMA = 2.2

Box = tuple[int, int, int, int]  # top, left, height, width


@dataclass(frozen=True)
class SampleCrops:
    """One image's crops: ``box`` (top, left, height, width) in target pixels, and three PNGs."""

    image_id: str
    position: int
    box: Box
    input_png: bytes
    output_png: bytes
    target_png: bytes

    @property
    def nbytes(self) -> int:
        """Total size of the three PNGs."""
        return len(self.input_png) + len(self.output_png) + len(self.target_png)


def centre_box(height: int, width: int, size: int = DEFAULT_SIZE, scale: int = 1) -> Box:
    """The ``size`` x ``size`` window (clipped to the image) centred on an image of ``height`` x ``width``,
    with ``top`` and ``left`` rounded down to a multiple of ``scale``."""
    if size < 1 or scale < 1:
        raise ValueError(f"size and scale must be positive, got size={size}, scale={scale}")
    h, w = min(size, height), min(size, width)
    top, left = (height - h) // 2 // scale * scale, (width - w) // 2 // scale * scale
    return top, left, h, w


def input_box(box: Box, scale: int, input_height: int, input_width: int) -> Box:
    """The input window matching the target window ``box`` (input ``scale`` times smaller), clipped."""
    top, left, height, width = box
    in_top, in_left = min(top // scale, input_height), min(left // scale, input_width)
    bottom = min(math.ceil((top + height) / scale), input_height)
    right = min(math.ceil((left + width) / scale), input_width)
    return in_top, in_left, max(bottom - in_top, 0), max(right - in_left, 0)


def infer_scale(input_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> int:
    """Input-to-target size factor from the shapes: ``round(target H / input H)``, at least 1."""
    return max(1, round(target_shape[0] / max(input_shape[0], 1)))


def viewable(image: np.ndarray) -> np.ndarray:
    """A uint8 H x W (grey) or H x W x 3 (RGB) array from an H x W (x C) one (see the module doc)."""
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    if channels in (1, 2):
        return image[..., 0]
    return image[..., :3]


def raw_preview(packed: np.ndarray) -> np.ndarray:
    """Packed Bayer (R, G1, B, G2), linear in [0, 1] -> float RGB ``(R, (G1 + G2) / 2, B) ** (1 / 2.2)``."""
    values = np.clip(np.asarray(packed, dtype=np.float64), 0.0, 1.0)
    rgb = np.stack([values[..., 0], (values[..., 1] + values[..., 3]) / 2, values[..., 2]], axis=-1)
    return np.power(rgb, 1.0 / RAW_PREVIEW_GAMMA)


def input_view(crop: np.ndarray, scale: int) -> np.ndarray:
    """The uint8 preview of an input crop (``scale`` > 1 with 4 channels: packed raw; see the module doc)."""
    if crop.ndim == 3 and crop.shape[2] == 4 and scale > 1:
        return to_uint8(raw_preview(crop))
    return viewable(to_uint8(crop))


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG of a uint8 H x W or H x W x 3 array."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected uint8 H x W or H x W x 3, got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The uint8 array of a PNG made by :func:`encode_png` (H x W or H x W x 3)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image).copy()


def _cut(image: np.ndarray, box: Box) -> np.ndarray:
    top, left, height, width = box
    return image[top : top + height, left : left + width]


def make_crops(
    input: np.ndarray,
    output: np.ndarray,
    target: np.ndarray,
    scale: int | None = None,
    size: int = DEFAULT_SIZE,
    *,
    image_id: str = "",
    position: int = 0,
) -> SampleCrops:
    """Crops of one scored image: ``input`` (float H' x W' x C, the model's input), ``output`` (the
    model's float H x W x C output), ``target`` (uint8 H x W (x C)); ``scale`` the task's SR factor
    (``None``: inferred from the shapes). See the module doc for the window and the previews."""
    if output.shape[:2] != target.shape[:2]:
        raise ValueError(f"output is {output.shape[:2]}, target {target.shape[:2]}: not the same size")
    factor = scale if scale is not None else infer_scale(input.shape, target.shape)
    box = centre_box(target.shape[0], target.shape[1], size, factor)
    in_crop = _cut(input, input_box(box, factor, input.shape[0], input.shape[1]))
    return SampleCrops(
        image_id=image_id,
        position=position,
        box=box,
        input_png=encode_png(input_view(in_crop, factor)),
        output_png=encode_png(viewable(to_uint8(_cut(output, box)))),
        target_png=encode_png(viewable(to_uint8(_cut(target, box)))),
    )
