"""End-to-end scoring: published bicubic numbers, result JSON contract, grey images, bad outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bench.data.images import list_images, read_image, write_image
from bench.data.resize import imresize
from bench.metrics import crop_border, mod_crop, psnr, rgb_to_y, ssim
from bench.plan import make_plan
from bench.runtime.protocol import LatencySettings
from bench.scoring import ScoringError, evaluate
from bench.submission import SubmissionError, load_submission
from bench.tasks import get_task
from tests.conftest import REPO, SHARED_DATASETS

FAST = LatencySettings(warmup_runs=1, warmup_min_s=0.0, min_runs=2, min_s=0.0, max_s=5.0)
BICUBIC = REPO / "submissions" / "baselines" / "bicubic"
PUBLISHED = {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)}  # Y, crop = scale


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_reproduces_published_set5(scale: int) -> None:
    result = evaluate(make_plan(load_submission(BICUBIC), get_task(f"sr-set5-x{scale}"), latency=FAST))
    psnr_ref, ssim_ref = PUBLISHED[scale]
    assert abs(result.metrics.psnr - psnr_ref) <= 0.02
    assert abs(result.metrics.ssim - ssim_ref) <= 0.001
    assert len(result.metrics.per_image) == 5


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_y_only_pipeline_of_the_papers_also_matches(scale: int) -> None:
    """The published tables: Y (MATLAB rgb2ycbcr on uint8) downscaled and upscaled in float."""
    from bench.data.sources import EMBEDDED_ROOT

    scores = []
    for path in list_images(EMBEDDED_ROOT / "Set5" / "HR"):
        y = mod_crop(rgb_to_y(read_image(path), rounding="matlab"), scale) / 255.0
        restored = imresize(imresize(y, 1 / scale), scale)
        a, b = crop_border(y * 255, scale), crop_border(restored * 255, scale)
        scores.append((psnr(a, b), ssim(a, b)))
    mean_psnr, mean_ssim = np.mean(scores, axis=0)
    assert abs(mean_psnr - PUBLISHED[scale][0]) <= 0.02
    assert abs(mean_ssim - PUBLISHED[scale][1]) <= 0.001


def _set14_root(tmp_path: Path) -> tuple[Path, bool]:
    if (SHARED_DATASETS / "Set14" / "HR").is_dir():
        return SHARED_DATASETS, True
    # A tiny Set14-layout fixture: two colour images and one one-channel image, as Set14 has (bridge).
    from bench.data.sources import EMBEDDED_ROOT

    hr = tmp_path / "Set14" / "HR"
    hr.mkdir(parents=True)
    for name in ("bird", "butterfly"):
        shutil.copy(EMBEDDED_ROOT / "Set5" / "HR" / f"{name}.png", hr / f"{name}.png")
    write_image(hr / "bridge.png", rgb_to_y(read_image(EMBEDDED_ROOT / "Set5" / "HR" / "baby.png")).astype(np.uint8))
    return tmp_path, False


def test_set14_with_its_one_channel_image(tmp_path: Path) -> None:
    root, real = _set14_root(tmp_path)
    classic = evaluate(make_plan(load_submission(BICUBIC), get_task("sr-set14-x2-classic"), data_root=root,
                                 latency=FAST))  # fmt: skip
    ids = [r.id for r in classic.metrics.per_image]
    assert "bridge" in ids
    if real:
        assert len(ids) == 14
        assert abs(classic.metrics.psnr - 30.24) <= 0.02  # published bicubic Set14 x2 (Y, crop 2)
    # the classic protocol scores the one-channel image on intensity: recompute it independently
    hr = mod_crop(read_image(root / "Set14" / "HR" / "bridge.png"), 2)
    up = np.rint(np.clip(imresize(imresize(hr, 0.5).astype(np.float64) / 255, 2), 0, 1) * 255)
    expected = psnr(crop_border(up, 2), crop_border(hr.astype(np.float64), 2))
    bridge = {r.id: r.psnr for r in classic.metrics.per_image}["bridge"]
    assert bridge == pytest.approx(expected, abs=0.01)
    # the default (learned-model tables) reads it as R = G = B, then Y: errors scale by 219 / 255
    learned = evaluate(make_plan(load_submission(BICUBIC), get_task("sr-set14-x2"), data_root=root, latency=FAST))
    scores = {r.id: r.psnr for r in learned.metrics.per_image}
    assert scores["bridge"] - bridge == pytest.approx(20 * np.log10(255 / 219), abs=1e-9)
    colour = [i for i in ids if i != "bridge"]
    assert all(scores[i] == {r.id: r.psnr for r in classic.metrics.per_image}[i] for i in colour)
    if real:  # +1.32 dB on one image of 14: the +0.094 dB of the mean
        assert learned.metrics.psnr - classic.metrics.psnr == pytest.approx(20 * np.log10(255 / 219) / 14, abs=1e-9)


def test_result_has_the_design_contract_fields() -> None:
    result = evaluate(make_plan(load_submission(BICUBIC), get_task("sr-set5-x2"), latency=FAST))
    data = result.model_dump(mode="json")
    assert {"task", "submission", "metrics", "latency", "complexity", "provenance"} <= data.keys()
    assert {"name", "team", "sha256"} <= data["submission"].keys()
    assert {"psnr", "ssim", "lpips", "per_image"} <= data["metrics"].keys()
    latency = data["latency"][0]
    for key in (
        "device",
        "backend",
        "precision",
        "threads",
        "input_shape",
        "median_ms",
        "p90_ms",
        "mean_ms",
        "runs",
        "cv",
    ):
        assert key in latency
    assert latency["input_shape"] == [1, 3, 360, 640] and latency["kind"] == "measured"
    assert {"macs", "params", "conv_traffic_bytes"} <= data["complexity"].keys()
    for key in ("bench_version", "git_commit", "python", "torch", "backends", "host", "started_at", "duration_s"):
        assert key in data["provenance"]


def _submission(tmp_path: Path, mode: str, weights: dict[str, torch.Tensor] | None = None) -> Path:
    folder = tmp_path / f"sub-{mode}"
    folder.mkdir()
    save_file(weights or {"w": torch.ones(1)}, str(folder / "model.safetensors"))
    (folder / "submission.yaml").write_text(
        "name: scaled\nteam: tests\ntasks: [denoise-demo-s25]\nformat: safetensors\n"
        f"architecture: {{name: test-scaled, args: {{mode: {mode}}}}}\nfiles: {{weights: model.safetensors}}\n"
    )
    return folder


def test_safetensors_weights_are_loaded_and_used(tmp_path: Path) -> None:
    task = get_task("denoise-demo-s25")
    identity = evaluate(make_plan(load_submission(_submission(tmp_path, "ok")), task, latency=FAST))
    half = tmp_path / "half"
    half.mkdir()
    folder = _submission(half, "ok", {"w": torch.full((1,), 0.5)})
    darker = evaluate(make_plan(load_submission(folder), task, latency=FAST))
    assert darker.metrics.psnr < identity.metrics.psnr - 3
    assert darker.complexity.params == 1


def test_nan_and_wrong_size_outputs_are_scoring_errors(tmp_path: Path) -> None:
    task = get_task("denoise-demo-s25")
    with pytest.raises(ScoringError, match="non-finite"):
        evaluate(make_plan(load_submission(_submission(tmp_path, "nan")), task, latency=FAST))
    with pytest.raises(ScoringError, match="output is 256x254"):
        evaluate(make_plan(load_submission(_submission(tmp_path, "small")), task, latency=FAST))


def test_weights_of_the_wrong_shape_are_rejected(tmp_path: Path) -> None:
    folder = _submission(tmp_path, "ok", {"w": torch.ones(3)})
    with pytest.raises(SubmissionError, match="do not fit architecture"):
        load_submission(folder).build({})


def test_lpips_is_null_with_a_reason_or_computed_with_a_backbone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.metrics import lpips as L

    monkeypatch.delenv(L.ALEXNET_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_hub"))
    identity = load_submission(REPO / "submissions" / "baselines" / "identity")
    task = get_task("denoise-demo-s25")
    without = evaluate(make_plan(identity, task, latency=FAST))
    assert without.metrics.lpips is None
    assert without.metrics.lpips_note and L.ALEXNET_FILENAME in without.metrics.lpips_note

    torch.manual_seed(0)  # a locally generated backbone exercises the plumbing (no real weights here)
    backbone = tmp_path / L.ALEXNET_FILENAME
    torch.save({f"features.{k}": v for k, v in L.alexnet_features().state_dict().items()}, backbone)
    with_backbone = evaluate(make_plan(identity, task, latency=FAST, lpips_weights=backbone))
    assert with_backbone.metrics.lpips is not None and with_backbone.metrics.lpips > 0
    assert all(r.lpips is not None for r in with_backbone.metrics.per_image)
    assert with_backbone.metrics.lpips_note is None


def test_demo_scores_every_demo_task_and_stores_it(tmp_path: Path) -> None:
    from bench.demo import demo_plan, run_demo
    from bench.store import Store

    store = Store(f"sqlite:///{tmp_path / 'demo.db'}")
    plan = demo_plan()
    assert {t.kind for t, _ in plan} == {"sr", "deblur", "lowlight", "denoise", "inpaint"}
    runs = list(run_demo(store, latency=FAST))
    assert len(runs) == len(plan) == store.count()
    by_task = {r.task.id: r.result for r in runs}
    assert abs(by_task["sr-set5-x4"].metrics.psnr - 28.42) <= 0.02
    assert by_task["denoise-demo-s25"].metrics.psnr < 25  # identity on sigma-25 noise: about 20.5 dB
