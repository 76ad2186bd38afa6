"""MATLAB imresize: bit-exact against MATLAB-made Set5 LR images (shipped fixture and ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.images import read_image
from bench.data.resize import contributions, imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.metrics import mod_crop
from tests.conftest import FIXTURES, SHARED_DATASETS

NAMES = ["baby", "bird", "butterfly", "head", "woman"]


def _check_against(lr_root: Path, hr_root: Path, scale: int) -> None:
    for name in NAMES:
        hr = mod_crop(read_image(hr_root / f"{name}.png"), scale)
        expected = read_image(lr_root / f"X{scale}" / f"{name}x{scale}.png")
        ours = imresize(hr, 1 / scale)
        assert ours.shape == expected.shape, name
        assert int((ours != expected).sum()) == 0, f"{name} x{scale}: differs from MATLAB"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_equals_matlab_fixture(scale: int) -> None:
    _check_against(FIXTURES / "set5_lr_matlab", EMBEDDED_ROOT / "Set5" / "HR", scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_downscale_equals_matlab_in_shared_when_present(scale: int) -> None:
    shared = SHARED_DATASETS / "Set5"
    if not shared.is_dir():
        # The shipped fixture above is the same check; this one re-reads the originals when available.
        _check_against(FIXTURES / "set5_lr_matlab", EMBEDDED_ROOT / "Set5" / "HR", scale)
        return
    _check_against(shared / "LR_bicubic", shared / "HR", scale)


def test_weights_sum_to_one_and_indices_mirror() -> None:
    weights, indices = contributions(5, 10, 2.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    assert indices.min() >= 0 and indices.max() <= 4
    assert indices[0].tolist()[:2] == [1, 0]  # MATLAB's mirror repeats the edge pixel: index -1 -> 0, -2 -> 1


def test_constant_image_stays_constant_and_float_path_is_float() -> None:
    flat = np.full((13, 17, 3), 0.25)
    out = imresize(flat, 0.5)
    assert out.dtype == np.float64 and out.shape == (7, 9, 3)
    np.testing.assert_allclose(out, 0.25, atol=1e-12)
    up = imresize(np.full((5, 6), 200, dtype=np.uint8), 3)
    assert up.dtype == np.uint8 and up.shape == (15, 18) and (up == 200).all()


def test_output_shape_argument_and_errors() -> None:
    image = np.zeros((20, 30), dtype=np.uint8)
    assert imresize(image, output_shape=(10, 12)).shape == (10, 12)
    with pytest.raises(ValueError, match="exactly one"):
        imresize(image)
