"""Seeded synthetic degradations: each turns a clean uint8 image into a (model input, target) pair.

Every degradation is a function ``(clean, rng, **params) -> (input, target)`` registered by name;
tasks name one in their YAML. ``input`` is float32 H x W (x C) in nominal range [0, 1], with the
clean image's channels (the pipeline turns it into what the model sees), ``target`` the uint8
image the output is scored against. All arithmetic is
float64 numpy, in a fixed order, so the same seed gives the same bytes on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data.resize import imresize
from bench.data.sid import PACK_OFFSETS
from bench.metrics.crop import mod_crop
from bench.registry import Registry

Pair = tuple[np.ndarray, np.ndarray]
Degradation = Callable[..., Pair]
DEGRADATIONS = Registry[Degradation]("degradation")
register_degradation = DEGRADATIONS.register


def apply_degradation(name: str, clean: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> Pair:
    """Apply the registered degradation ``name`` with ``params``."""
    return DEGRADATIONS[name](clean, rng, **params)


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0


@register_degradation("matlab-bicubic-down")
def bicubic_down(clean: np.ndarray, rng: np.random.Generator, scale: int) -> Pair:
    """SR: target = HR mod-cropped to a multiple of ``scale``; input = MATLAB bicubic 1/scale (uint8)."""
    target = mod_crop(clean, scale)
    low = imresize(target, 1.0 / scale)
    return _unit(low).astype(np.float32), target


@register_degradation("none")
def no_degradation(clean: np.ndarray, rng: np.random.Generator) -> Pair:
    """Input = target (for checking a pipeline)."""
    return _unit(clean).astype(np.float32), clean


@register_degradation("awgn")
def awgn(clean: np.ndarray, rng: np.random.Generator, sigma: float) -> Pair:
    """Additive white Gaussian noise: input = x / 255 + N(0, (sigma / 255)^2), float, not clipped."""
    x = _unit(clean)
    noisy = x + rng.standard_normal(x.shape) * (sigma / 255.0)
    return noisy.astype(np.float32), clean


def motion_kernel(rng: np.random.Generator, size: int = 21, steps: int = 96, inertia: float = 0.7) -> np.ndarray:
    """A random camera-shake trajectory rasterised into a ``size`` x ``size`` blur kernel (sum 1).

    The trajectory is a 2-D walk whose velocity keeps a fraction ``inertia`` of its previous value
    and gets a random unit push each step (after Boracchi & Foi 2012); it is scaled to fit the
    kernel, centred on its centroid, and splatted bilinearly.
    """
    velocity = np.zeros(2)
    position = np.zeros(2)
    points = np.empty((steps, 2))
    for step in range(steps):
        angle = rng.uniform(0.0, 2.0 * np.pi)
        velocity = inertia * velocity + (1.0 - inertia) * np.array([np.cos(angle), np.sin(angle)])
        position = position + velocity
        points[step] = position
    points -= points.mean(axis=0)
    extent = np.abs(points).max()
    if extent > 0:
        points *= (size / 2 - 1.5) / extent
    points += (size - 1) / 2
    kernel = np.zeros((size, size))
    for y, x in points:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        kernel[y0, x0] += (1 - fy) * (1 - fx)
        kernel[y0 + 1, x0] += fy * (1 - fx)
        kernel[y0, x0 + 1] += (1 - fy) * fx
        kernel[y0 + 1, x0 + 1] += fy * fx
    return kernel / kernel.sum()


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'same' 2-D convolution of H x W (x C) float64 with symmetric-reflect borders (zero taps skipped)."""
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    pad = ((ph, kh - 1 - ph), (pw, kw - 1 - pw)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, pad, mode="symmetric")
    height, width = image.shape[:2]
    out = np.zeros_like(image, dtype=np.float64)
    flipped = kernel[::-1, ::-1]  # convolution, not correlation
    for dy, dx in zip(*np.nonzero(flipped), strict=True):
        out += flipped[dy, dx] * padded[dy : dy + height, dx : dx + width]
    return out


@register_degradation("motion-blur")
def motion_blur(clean: np.ndarray, rng: np.random.Generator, kernel_size: int = 21, noise_sigma: float = 1.0) -> Pair:
    """Blur with a random-trajectory kernel, add N(0, noise_sigma^2) (8-bit units), quantise to uint8."""
    kernel = motion_kernel(rng, size=kernel_size)
    blurred = convolve(clean.astype(np.float64), kernel)
    blurred += rng.standard_normal(blurred.shape) * noise_sigma
    quantised = np.clip(np.floor(blurred + 0.5), 0, 255)
    return (quantised / 255.0).astype(np.float32), clean


@dataclass(frozen=True)
class Sensor:
    """Under-exposure and Poisson-Gaussian sensor noise, on linear light in [0, 1].

    ``exposure``: fraction of the full exposure; ``gamma``: sRGB -> linear power; ``photons``: the
    photon count of a full-scale pixel at full exposure; ``read_noise``: std of the Gaussian part.
    """

    exposure: float = 0.1
    gamma: float = 2.2
    photons: float = 400.0
    read_noise: float = 0.002

    def capture(self, linear: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Poisson(linear * exposure * photons) / photons + N(0, read_noise^2), unclipped."""
        shot = rng.poisson(linear * self.exposure * self.photons) / self.photons
        return np.asarray(shot + rng.standard_normal(linear.shape) * self.read_noise)


@register_degradation("low-light")
def low_light(clean: np.ndarray, rng: np.random.Generator, **sensor: float) -> Pair:
    """Under-exposure in linear light with sensor noise (:class:`Sensor`), back to 8-bit sRGB.

    linear = (x / 255)^gamma; noisy = Sensor.capture(linear); input =
    quantise_8bit(clip(noisy, 0, 1)^(1 / gamma)).
    """
    camera = Sensor(**sensor)
    noisy = np.clip(camera.capture(_unit(clean) ** camera.gamma, rng), 0.0, 1.0)
    srgb = np.floor(noisy ** (1.0 / camera.gamma) * 255.0 + 0.5)
    return (srgb / 255.0).astype(np.float32), clean


@register_degradation("low-light-raw")
def low_light_raw(clean: np.ndarray, rng: np.random.Generator, **sensor: float) -> Pair:
    """Synthetic SID-style raw input: the clean image as an under-exposed, packed, amplified Bayer raw.

    The clean image is mod-cropped to even H and W (the target). linear = (x / 255)^gamma, sampled
    on an RGGB mosaic and packed into 4 half-resolution planes (R, G1, B, G2: the order of
    ``bench/data/sid.py``); short = Sensor.capture(packed); input = clip(short / exposure, 0, 1),
    i.e. amplified by the SID ratio 1 / exposure. Input float32 H/2 x W/2 x 4, target uint8
    H x W x 3: a model doubles the size.
    """
    camera = Sensor(**sensor)
    target = mod_crop(clean if clean.ndim == 3 else np.repeat(clean[..., None], 3, axis=2), 2)
    linear = _unit(target) ** camera.gamma
    planes = (0, 1, 2, 1)  # R, G1, B, G2 read the R, G, G, B channels of the mosaic
    packed = np.stack([linear[r::2, c::2, ch] for (r, c), ch in zip(PACK_OFFSETS, planes, strict=True)], axis=-1)
    return np.clip(camera.capture(packed, rng) / camera.exposure, 0.0, 1.0).astype(np.float32), target


def free_form_mask(
    rng: np.random.Generator, height: int, width: int, strokes: int = 4, max_width: int = 24, vertices: int = 6
) -> np.ndarray:
    """Seeded free-form hole mask (1 = hole), strokes of random vertices and widths (after DeepFill v2)."""
    mask = np.zeros((height, width), dtype=bool)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(strokes):
        radius = rng.uniform(max_width / 4, max_width / 2)
        point = rng.uniform([0, 0], [height, width])
        reach = int(np.ceil(radius)) + 1
        for _ in range(vertices):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(height / 12, height / 4)
            end = np.clip(point + length * np.array([np.sin(angle), np.cos(angle)]), 0, [height - 1, width - 1])
            for t in np.linspace(0.0, 1.0, int(length) + 2):
                cy, cx = point + t * (end - point)
                # only the disc's bounding window can change: the same per-pixel test, far fewer pixels
                top, left = max(int(cy) - reach, 0), max(int(cx) - reach, 0)
                rows, cols = slice(top, int(cy) + reach + 1), slice(left, int(cx) + reach + 1)
                mask[rows, cols] |= (yy[rows, cols] - cy) ** 2 + (xx[rows, cols] - cx) ** 2 <= radius * radius
            point = end
    return mask


@register_degradation("free-form-mask")
def masked(clean: np.ndarray, rng: np.random.Generator, strokes: int = 4, max_width: int = 24) -> Pair:
    """Inpainting: input is the image with holes set to 0, then the mask channel (1 = hole)."""
    mask = free_form_mask(rng, clean.shape[0], clean.shape[1], strokes=strokes, max_width=max_width)
    return masked_input(clean, mask), clean


@register_degradation("free-form-mask-ratio")
def masked_in_bin(clean: np.ndarray, rng: np.random.Generator, low: float, high: float, max_width: int = 24) -> Pair:
    """Inpainting with a hole ratio in [``low``, ``high``) (fractions of the image): the input of ``free-form-mask``.

    One-stroke free-form masks are added until the hole covers at least ``low``; a stroke that would
    take it to ``high`` or beyond is drawn again (up to 500 draws). The mask binning of the
    NVIDIA irregular-mask test set (hole ratios 0-10 %, 10-20 %, ... 50-60 %) on any image."""
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"a hole-ratio bin needs 0 <= low < high <= 1, not [{low}, {high})")
    height, width = clean.shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(500):
        if mask.mean() >= low:
            return masked_input(clean, mask), clean
        grown = mask | free_form_mask(rng, height, width, strokes=1, max_width=max_width)
        if grown.mean() < high:
            mask = grown
    raise ValueError(f"no free-form mask with a hole ratio in [{low}, {high}) after 500 strokes on {height}x{width}")


def masked_input(clean: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 H x W x (C + 1): the image in [0, 1] with holes (mask True) set to 0, then the mask."""
    image = _unit(clean if clean.ndim == 3 else clean[..., None])
    hole = mask[..., None].astype(np.float64)
    return np.concatenate([image * (1.0 - hole), hole], axis=2).astype(np.float32)
