"""Tests for bench.metrics.lpips (plain-torch LPIPS, alex v0.1).

No real AlexNet weights are available offline, so a seeded random backbone with the
torchvision key layout is generated; the real lpips linear weights are used when the
package is installed, otherwise seeded non-negative ones are generated.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from bench.metrics import lpips as L

CONVS = {0: (3, 64, 11), 3: (64, 192, 5), 6: (192, 384, 3), 8: (384, 256, 3), 10: (256, 256, 3)}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never pick up a real env var or hub cache from the machine running the tests."""
    monkeypatch.delenv(L.ALEXNET_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))


@pytest.fixture(scope="module")
def backbone_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1234)
    feats = L.alexnet_features()  # built independently of any weights file
    state = {f"features.{k}": v.clone() for k, v in feats.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(4, 4)  # real file has a classifier too
    path = tmp_path_factory.mktemp("alex") / L.ALEXNET_FILENAME
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def linear_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return L.find_linear_weights()
    except L.LPIPSUnavailable:
        gen = torch.Generator().manual_seed(99)
        state = {
            f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) * 0.1 for i, c in enumerate(L.CHANNELS)
        }
        path = tmp_path_factory.mktemp("lin") / "alex.pth"
        torch.save(state, path)
        return path


@pytest.fixture(scope="module")
def metric(backbone_path: Path, linear_path: Path) -> L.LPIPS:
    return L.LPIPS.load(backbone_path, linear_path=linear_path)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[100:228, 180:308])


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    field = np.random.default_rng(seed).standard_normal(img.shape)
    return np.clip(np.round(img + sigma * field), 0, 255).astype(np.uint8)


def reference_lpips(img0: np.ndarray, img1: np.ndarray, backbone: Path, linear: Path) -> float:
    """Straight re-computation with torch.nn.functional, layer by layer."""
    bb = torch.load(backbone, map_location="cpu", weights_only=True)
    lin = torch.load(linear, map_location="cpu", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def feats(img: np.ndarray) -> list[torch.Tensor]:
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        x = torch.tensor(img.astype(np.float64) / 127.5 - 1.0, dtype=torch.float32)
        x = (x.permute(2, 0, 1).unsqueeze(0) - shift) / scale

        def conv(x: torch.Tensor, i: int, pad: int, stride: int = 1) -> torch.Tensor:
            return F.relu(F.conv2d(x, bb[f"features.{i}.weight"], bb[f"features.{i}.bias"], stride, pad))

        r1 = conv(x, 0, 2, 4)
        r2 = conv(F.max_pool2d(r1, 3, 2), 3, 2)
        r3 = conv(F.max_pool2d(r2, 3, 2), 6, 1)
        r4 = conv(r3, 8, 1)
        r5 = conv(r4, 10, 1)
        return [r1, r2, r3, r4, r5]

    total = 0.0
    for i, (a, b) in enumerate(zip(feats(img0), feats(img1), strict=True)):
        na = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total += F.conv2d((na - nb) ** 2, lin[f"lin{i}.model.1.weight"]).mean().item()
    return total


def test_backbone_keys_match_torchvision_layout(backbone_path: Path) -> None:
    state = torch.load(backbone_path, map_location="cpu", weights_only=True)
    for i, (cin, cout, k) in CONVS.items():
        assert state[f"features.{i}.weight"].shape == (cout, cin, k, k)
        assert state[f"features.{i}.bias"].shape == (cout,)


def test_find_linear_weights_real_package() -> None:
    path = L.find_linear_weights()  # scripts/install.sh installs the lpips package (weights only)
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(L.CHANNELS)
    }


def test_find_linear_weights_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(L.LPIPSUnavailable, match="lpips"):
        L.find_linear_weights()


def test_load_via_argument(backbone_path: Path, linear_path: Path) -> None:
    assert L.find_alexnet_weights(backbone_path) == backbone_path
    assert L.find_alexnet_weights(backbone_path.parent) == backbone_path  # directory form
    metric, reason = L.try_load_lpips(backbone_path, linear_path=linear_path)
    assert reason is None and metric is not None
    assert metric.alexnet_path == backbone_path


def test_load_via_env(monkeypatch: pytest.MonkeyPatch, backbone_path: Path, linear_path: Path) -> None:
    monkeypatch.setenv(L.ALEXNET_ENV, str(backbone_path))
    assert L.find_alexnet_weights() == backbone_path
    metric, reason = L.try_load_lpips(linear_path=linear_path)
    assert reason is None and metric is not None


def test_load_via_torch_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backbone_path: Path, linear_path: Path
) -> None:
    ckpt = tmp_path / "th" / "hub" / "checkpoints" / L.ALEXNET_FILENAME
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(backbone_path.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert L.find_alexnet_weights() == ckpt
    metric, reason = L.try_load_lpips(linear_path=linear_path)
    assert reason is None and metric is not None and metric.alexnet_path == ckpt


def test_missing_file_reason_names_path(tmp_path: Path, linear_path: Path) -> None:
    missing = tmp_path / "nowhere" / L.ALEXNET_FILENAME
    metric, reason = L.try_load_lpips(missing, linear_path=linear_path)
    assert metric is None and reason is not None
    assert str(missing) in reason and L.ALEXNET_ENV in reason
    metric, reason = L.try_load_lpips(linear_path=linear_path)  # default: empty hub cache
    assert metric is None and reason is not None
    assert str(tmp_path / "empty_torch_home" / "hub" / "checkpoints" / L.ALEXNET_FILENAME) in reason


def test_bad_file_is_unavailable_not_crash(tmp_path: Path, linear_path: Path) -> None:
    bad = tmp_path / L.ALEXNET_FILENAME
    bad.write_bytes(b"not a checkpoint")
    metric, reason = L.try_load_lpips(bad, linear_path=linear_path)
    assert metric is None and reason is not None and str(bad) in reason
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    metric, reason = L.try_load_lpips(bad, linear_path=linear_path)
    assert metric is None and reason is not None


def test_identical_is_zero(metric: L.LPIPS, image: np.ndarray) -> None:
    assert metric(image, image.copy()) == 0.0


def test_monotonic_in_noise(metric: L.LPIPS, image: np.ndarray) -> None:
    values = [metric(noisy(image, s), image) for s in (2, 5, 10, 20, 40, 80)]
    assert values[0] > 0.0
    assert all(a < b for a, b in itertools.pairwise(values)), values


def test_symmetric(metric: L.LPIPS, image: np.ndarray) -> None:
    other = noisy(image, 25, seed=3)
    assert metric(image, other) == pytest.approx(metric(other, image), abs=1e-6)


def test_gray_input(metric: L.LPIPS, image: np.ndarray) -> None:
    gray = image.mean(axis=2).astype(np.uint8)
    other = noisy(gray, 15)
    value = metric(gray, other)
    assert value > 0.0
    rgb = np.repeat(gray[:, :, None], 3, axis=2), np.repeat(other[:, :, None], 3, axis=2)
    assert value == metric(*rgb)
    assert metric(gray[:, :, None], other[:, :, None]) == value


def test_matches_functional_reference(
    metric: L.LPIPS, image: np.ndarray, backbone_path: Path, linear_path: Path
) -> None:
    for other in (noisy(image, 10), noisy(image, 60, seed=7), np.ascontiguousarray(image[::-1])):
        ref = reference_lpips(image, other, backbone_path, linear_path)
        assert metric(image, other) == pytest.approx(ref, abs=1e-6)
    gray = image[:, :, 1]
    assert metric(gray, gray[::-1]) == pytest.approx(
        reference_lpips(gray, np.ascontiguousarray(gray[::-1]), backbone_path, linear_path), abs=1e-6
    )


def test_rejects_bad_inputs(metric: L.LPIPS, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        metric(image.astype(np.float32), image.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        metric(image, image[:64])
    with pytest.raises(ValueError, match="at least"):
        metric(image[:16, :16], image[:16, :16])
