"""Structural similarity, the Wang et al. (2004) ``ssim_index.m`` / BasicSR ``calculate_ssim`` form.

With an 11 x 11 Gaussian window w (sigma 1.5, normalised to sum 1), filtering in 'valid' mode
(the 5-pixel margin is dropped), C1 = (0.01 L)^2, C2 = (0.03 L)^2 and L = 255::

    mu_x = w * x,   sigma_x^2 = w * x^2 - mu_x^2,   sigma_xy = w * (x y) - mu_x mu_y
    SSIM = mean over the map of
           (2 mu_x mu_y + C1) (2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2))

For an RGB image each channel gets its own map and the three means are averaged (equivalently,
the mean over all maps, since they have the same size).

Implementation: the arithmetic is float64 (float32 loses ~1e-4 through the cancellation in
``w * x^2 - mu^2``). On a 2-core machine, creating full-size float64 temporaries is dominated by
page faults, so the image is processed in strips of 8 rows with preallocated buffers: the
vertical pass is one batched matrix product with a banded matrix, the horizontal pass in-place
shifted adds, and the statistics use s = x + y, d = x - y (four maps instead of five). Results equal scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255)`` to ~1e-15 (its reflect-padded map cropped by 5 pixels is exactly the valid map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

WINDOW = 11
SIGMA = 1.5
_RADIUS = WINDOW // 2
_STRIP_ROWS = 8


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    """1-D normalised Gaussian taps (``cv2.getGaussianKernel(size, sigma)``)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


_TAPS = [float(t) for t in gaussian_window()]


def _planar(image: np.ndarray) -> torch.Tensor:
    """H x W or H x W x C -> contiguous C x H x W tensor (dtype kept)."""
    import torch  # imported on use: reading a task's metric spec must not load torch

    planes = image[None] if image.ndim == 2 else np.ascontiguousarray(np.moveaxis(image, -1, 0))
    return torch.from_numpy(np.ascontiguousarray(planes))


def _band(rows: int) -> torch.Tensor:
    """rows x (rows + 10) banded matrix: row i holds the taps at columns i .. i + 10 (vertical pass)."""
    import torch  # imported on use: reading a task's metric spec must not load torch

    band = torch.zeros(rows, rows + WINDOW - 1, dtype=torch.float64)
    taps = torch.tensor(_TAPS, dtype=torch.float64)
    for i in range(rows):
        band[i, i : i + WINDOW] = taps
    return band


def _filter_cols(src: torch.Tensor, dst: torch.Tensor) -> None:
    """dst[..., j] = sum_k w_k src[..., j + k]  (horizontal 'valid' pass, in place)."""
    import torch  # imported on use: reading a task's metric spec must not load torch

    width = dst.shape[-1]
    torch.mul(src[..., _RADIUS : _RADIUS + width], _TAPS[_RADIUS], out=dst)
    for k in range(_RADIUS):
        dst.add_(src[..., k : k + width], alpha=_TAPS[k])
        dst.add_(src[..., WINDOW - 1 - k : WINDOW - 1 - k + width], alpha=_TAPS[k])


def ssim_map_sum(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> tuple[float, int]:
    """Sum and count of the SSIM map values over all channels (valid filtering).

    Works on s = x + y and d = x - y, which need four filtered maps instead of five:
    with v_s = w*s^2 - (w*s)^2 and v_d likewise,
    2 mu_x mu_y = ((w*s)^2 - (w*d)^2) / 2,  mu_x^2 + mu_y^2 = ((w*s)^2 + (w*d)^2) / 2,
    2 sigma_xy = (v_s - v_d) / 2,            sigma_x^2 + sigma_y^2 = (v_s + v_d) / 2,
    and the factors 1/2 cancel between numerator and denominator once C1, C2 are doubled.
    """
    import torch

    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"SSIM needs H x W or H x W x C images, got shape {a.shape}")
    height, width = a.shape[:2]
    if height < WINDOW or width < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, got {height}x{width}")
    c1x2 = 2 * (0.01 * data_range) ** 2
    c2x2 = 2 * (0.03 * data_range) ** 2
    # s and d of whole images stay small (int16 for 8-bit input; float64 only for float input):
    # full-size float64 temporaries would cost more in page faults than the whole computation.
    exact = a.dtype == np.uint8 and b.dtype == np.uint8
    work = torch.int16 if exact else torch.float64
    x, y = _planar(a).to(work), _planar(b).to(work)
    s_full, d_full = x + y, x - y
    channels = x.shape[0]
    out_h, out_w = height - WINDOW + 1, width - WINDOW + 1
    rows = min(_STRIP_ROWS, out_h)
    f64 = torch.float64
    stats = torch.empty(4, channels, rows + WINDOW - 1, width, dtype=f64)
    vertical = torch.empty(4, channels, rows, width, dtype=f64)
    filtered = torch.empty(4, channels, rows, out_w, dtype=f64)
    num = torch.empty(channels, rows, out_w, dtype=f64)
    tmp = torch.empty_like(num)
    band = _band(rows)
    total = 0.0
    for top in range(0, out_h, rows):
        n = min(rows, out_h - top)
        s, v, f = stats[:, :, : n + WINDOW - 1], vertical[:, :, :n], filtered[:, :, :n]
        s[0].copy_(s_full[:, top : top + n + WINDOW - 1])
        s[1].copy_(d_full[:, top : top + n + WINDOW - 1])
        torch.mul(s[0], s[0], out=s[2])
        torch.mul(s[1], s[1], out=s[3])
        torch.matmul(band if n == rows else _band(n), s, out=v)  # vertical pass: one batched GEMM
        _filter_cols(v, f)
        mu_s, mu_d, var_s, var_d = f
        nu, t = num[:, :n], tmp[:, :n]
        mu_s.mul_(mu_s)  # (w*s)^2
        mu_d.mul_(mu_d)  # (w*d)^2
        var_s.sub_(mu_s)  # v_s
        var_d.sub_(mu_d)  # v_d
        torch.sub(mu_s, mu_d, out=nu).add_(c1x2)  # 2 (2 mu_x mu_y + C1)
        torch.sub(var_s, var_d, out=t).add_(c2x2)  # 2 (2 sigma_xy + C2)
        nu.mul_(t)
        mu_s.add_(mu_d).add_(c1x2)  # 2 (mu_x^2 + mu_y^2 + C1)
        var_s.add_(var_d).add_(c2x2)  # 2 (sigma_x^2 + sigma_y^2 + C2)
        mu_s.mul_(var_s)
        total += float(nu.div_(mu_s).sum())
    return total, channels * out_h * out_w


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM of ``a`` against ``b`` (H x W or H x W x C, values in [0, data_range])."""
    total, count = ssim_map_sum(a, b, data_range)
    return total / count
