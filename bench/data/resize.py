"""MATLAB-compatible bicubic ``imresize`` (written by hand because it must match MATLAB bit for bit).

MATLAB's ``imresize(img, s, 'bicubic')`` with its default antialiasing, as re-implemented by
BasicSR's ``matlab_functions.imresize``:

* cubic kernel with a = -0.5::

      k(x) = 1.5|x|^3 - 2.5|x|^2 + 1            for |x| <= 1
             -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2    for 1 < |x| <= 2,   0 otherwise

* when downscaling by s < 1 the kernel is stretched: weights s k(s d), width 4 / s (antialiasing);
* output coordinate x (1-based) maps to input u = x / s + 0.5 (1 - 1 / s); the taps are
  floor(u - width / 2) + 0 .. ceil(width) + 1, weights normalised per output pixel, all-zero edge
  taps dropped;
* borders are mirrored (MATLAB's ``[1:n, n:-1:1]`` index table: the edge pixel repeats);
* the dimension with the smaller scale is resized first (rows first when scales are equal);
* on uint8 input the result of each pass is rounded to uint8 (halves away from zero, clipped to
  0..255), as MATLAB's ``imresizemex`` does; float input stays float64 throughout.

Done this way, Set5 downscaled by 2, 3 and 4 equals MATLAB's own ``LR_bicubic`` PNGs exactly.
"""

from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out x taps, float64) and 0-based mirrored input indices (out x taps) for one axis."""
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(distance * scale) if antialias else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    weights, indices = weights[:, keep], indices[:, keep]
    # MATLAB: aux = [1:n, n:-1:1]; idx = aux(mod(idx - 1, 2n) + 1)  (1-based)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    zero_based = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    return weights, zero_based


def _round_uint8(values: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8: round half away from zero, saturate to 0..255."""
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def _resize_axis(image: np.ndarray, axis: int, out_length: int, scale: float) -> np.ndarray:
    weights, indices = contributions(image.shape[axis], out_length, scale)
    moved = np.moveaxis(image, axis, 0)
    out = np.zeros((out_length, *moved.shape[1:]), dtype=np.float64)
    trailing = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(weights.shape[1]):
        out += weights[:, tap][trailing] * moved[indices[:, tap]]
    return np.moveaxis(out, 0, axis)


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resize an H x W (x C) image like MATLAB ``imresize(image, scale, 'bicubic')``.

    Give either ``scale`` (same factor for both axes; output size ceil(scale * size), as MATLAB)
    or ``output_shape`` (H_out, W_out). uint8 in -> uint8 out (rounded after each pass);
    any other dtype -> float64 out.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale or output_shape")
    height, width = image.shape[:2]
    if output_shape is None:
        assert scale is not None
        output_shape = (math.ceil(height * scale), math.ceil(width * scale))
        scales = (float(scale), float(scale))
    else:
        scales = (output_shape[0] / height, output_shape[1] / width)
    is_uint8 = image.dtype == np.uint8
    result: np.ndarray = image.astype(np.float64)
    order = sorted(range(2), key=lambda axis: scales[axis])  # smaller scale first; stable for ties
    for axis in order:
        result = _resize_axis(result, axis, output_shape[axis], scales[axis])
        if is_uint8:
            result = _round_uint8(result).astype(np.float64)
    return result.astype(np.uint8) if is_uint8 else result
