"""PSNR, SSIM, Y channel, rounding and cropping against scikit-image (an external reference)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.metrics import PSNR_IDENTICAL_DB, crop_border, mod_crop, psnr, rgb_to_y, ssim, to_uint8
from bench.metrics.quantize import NonFiniteOutput


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(
        structural_similarity(
            a,
            b,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=2 if a.ndim == 3 else None,
        )
    )


def _noisy(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(11, 11), (32, 47), (40, 33, 3), (97, 128, 3)])
def test_psnr_and_ssim_match_skimage_on_random_images(rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = _noisy(a, rng, 12)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-10)


def test_psnr_and_ssim_match_skimage_on_real_images(real_images: list[np.ndarray], rng: np.random.Generator) -> None:
    for image in real_images:
        for sigma in (2, 10, 30):
            degraded = _noisy(image, rng, sigma)
            assert psnr(degraded, image) == pytest.approx(
                peak_signal_noise_ratio(image, degraded, data_range=255), abs=1e-10
            )
            assert ssim(degraded, image) == pytest.approx(_sk_ssim(degraded, image), abs=1e-10)


def test_ssim_on_float_y_channel_matches_skimage(real_images: list[np.ndarray], rng: np.random.Generator) -> None:
    image = real_images[0]
    a, b = rgb_to_y(image), rgb_to_y(_noisy(image, rng, 8))
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-10)


def test_ssim_is_one_for_identical_and_falls_with_noise(
    real_images: list[np.ndarray], rng: np.random.Generator
) -> None:
    image = real_images[1]
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    scores = [ssim(_noisy(image, rng, s), image) for s in (5, 15, 40)]
    assert scores[0] > scores[1] > scores[2]


def test_identical_images_give_the_documented_100_db() -> None:
    image = np.full((16, 16, 3), 77, dtype=np.uint8)
    assert psnr(image, image) == PSNR_IDENTICAL_DB == 100.0
    one_off = image.copy()
    one_off[0, 0, 0] += 1
    assert psnr(image, one_off) == pytest.approx(10 * np.log10(255**2 * image.size), abs=1e-9)


def test_psnr_is_mean_of_squared_error_in_float64() -> None:
    a = np.zeros((4, 4), dtype=np.uint8)
    b = np.full((4, 4), 255, dtype=np.uint8)  # uint8 subtraction would wrap; float64 must not
    assert psnr(a, b) == pytest.approx(0.0, abs=1e-12)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(np.zeros((10, 40)), np.zeros((10, 40)))


def test_y_channel_is_matlab_bt601(rng: np.random.Generator) -> None:
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    expected = rgb2ycbcr(image)[..., 0]  # skimage implements MATLAB's rgb2ycbcr (16..235)
    np.testing.assert_allclose(rgb_to_y(image), expected, atol=1e-9)
    assert rgb_to_y(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16.0)
    rounded = rgb_to_y(image, rounding="matlab")
    np.testing.assert_array_equal(rounded, np.floor(expected + 0.5))


def test_to_uint8_clamps_rounds_and_never_wraps() -> None:
    values = np.array([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 0.2, 1.0, 256 / 255, 1.004, 7.0])
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 0, 2, 51, 255, 255, 255, 255])
    with pytest.raises(NonFiniteOutput, match="non-finite"):
        to_uint8(np.array([0.5, np.nan]))
    with pytest.raises(NonFiniteOutput):
        to_uint8(np.array([np.inf]))


def test_crop_border_and_mod_crop() -> None:
    image = np.arange(10 * 12).reshape(10, 12)
    assert crop_border(image, 2).shape == (6, 8)
    assert crop_border(image, 0) is image
    assert mod_crop(image, 4).shape == (8, 12)
    with pytest.raises(ValueError, match="too small"):
        crop_border(image, 5)
