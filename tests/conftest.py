"""Shared fixtures. Tests never need ../shared; where it exists, some tests also check against it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# the test-only architectures, registered here and (through the environment) in sandboxed children
os.environ["BENCH_MODEL_MODULES"] = "tests.archs"
import tests.archs  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def real_images() -> list[np.ndarray]:
    """A few real photographs (embedded scenes and Set5), uint8 RGB."""
    from bench.data.images import list_images, read_image
    from bench.data.sources import EMBEDDED_ROOT

    paths = list_images(EMBEDDED_ROOT / "scenes") + list_images(EMBEDDED_ROOT / "Set5" / "HR")[:2]
    return [read_image(p) for p in paths]


@pytest.fixture
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store URL in tmp_path; BENCH_DB points at it and XDG_DATA_HOME is isolated too."""
    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("BENCH_DB", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return url


@pytest.fixture
def train_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three small structured colour photos-to-be (gradients, edges, noise), 72 x 88 PNG."""
    monkeypatch.delenv("BENCH_DATA", raising=False)  # validation tasks read their embedded copies
    monkeypatch.delenv("BENCH_TRAIN_DATA", raising=False)
    folder = tmp_path / "train"
    folder.mkdir()
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:72, 0:88]
    for i in range(3):
        base = np.stack([xx * (2 + i), yy * 3, (xx + yy) * (1 + i)], axis=-1) % 256
        base[(xx // 11 + yy // 9) % 2 == 0] //= 2
        image = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def sr_baseline(train_folder: Path, tmp_path: Path) -> Path:
    """A tiny EDSR x2 (2 resblocks, 16 features) trained here by ``bench train`` on ``train_folder``."""
    import yaml

    from bench.training import TrainOptions, train
    from bench.training.recipe import parse_recipe

    raw = yaml.safe_load((REPO / "recipes" / "tiny-fsrcnn-x2.yaml").read_text())
    raw.update(name="tiny-edsr-x2", architecture={"name": "edsr-baseline", "args": {"n_resblocks": 2, "n_feats": 16}})
    result = train(parse_recipe(raw), TrainOptions(out_dir=tmp_path / "base-run", data_folder=train_folder))
    assert result.submission is not None
    return result.submission
