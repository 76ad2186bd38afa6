"""Metric objects: each carries its direction, unit, range and precision, and the result record, the
store, the export and the board read them from it; a new metric is one file plus its registration."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.metrics.registry import METRICS, Metric, register_metric
from bench.metrics.spec import MetricSpec
from bench.plan import make_plan
from bench.registry import UnknownName
from bench.results import Result
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.store import Store
from bench.store.board_rows import leaderboard_rows
from bench.store.export import table
from bench.submission import load_submission
from bench.tasks import get_task
from tests.conftest import REPO

FAST_LATENCY = {"warmup_runs": 0, "warmup_min_s": 0, "min_runs": 1, "min_s": 0, "stable_blocks": 1, "max_blocks": 1}


def test_the_contract_metrics_carry_their_direction_unit_and_range() -> None:
    psnr, ssim, lpips, l1 = (METRICS[n] for n in ("psnr", "ssim", "lpips", "l1"))
    assert (psnr.title, psnr.higher_is_better, psnr.low, psnr.high) == ("PSNR (dB)", True, 0.0, math.inf)
    assert (ssim.title, ssim.higher_is_better, ssim.low, ssim.high) == ("SSIM", True, -1.0, 1.0)
    assert (lpips.axis_title, lpips.higher_is_better) == ("LPIPS (lower is better)", False)
    assert (l1.title, l1.higher_is_better, l1.in_range(100.0), l1.in_range(100.1)) == ("L1 (%)", False, True, False)
    assert psnr.text(33.66012) == "33.660" and ssim.text(None) == "n/a"


def test_l1_is_the_inpainting_tables_percent_mean_absolute_error() -> None:
    """Liu et al. 2018 report l1 as the mean absolute error of 8-bit images in % (|255 - 0| everywhere = 100 %)."""
    fn = METRICS["l1"].function()
    white, black = np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8)
    assert fn(white, black) == pytest.approx(100.0)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (8, 9, 3)), rng.integers(0, 256, (8, 9, 3))
    assert fn(a, b) == pytest.approx(
        sum(abs(int(x) - int(y)) for x, y in zip(a.ravel(), b.ravel(), strict=True)) / a.size / 2.55
    )


def test_a_task_may_name_only_registered_further_metrics() -> None:
    assert MetricSpec(colour="rgb", crop_border=0, extra=["l1"]).extra == ["l1"]
    with pytest.raises(ValueError, match="always part of the protocol"):
        MetricSpec(colour="rgb", crop_border=0, extra=["psnr"])
    with pytest.raises(UnknownName, match="l1"):
        MetricSpec(colour="rgb", crop_border=0, extra=["no-such-metric"])


def test_a_new_metric_is_one_file_and_its_registration(tmp_path: Path) -> None:
    """A throwaway metric (its own module, one register_metric call) named by a task: recorded per image and
    per run, stored, exported and shown as a board column, with no other change anywhere."""
    (tmp_path / "maxerr_metric.py").write_text(
        "import numpy as np\n\n\ndef max_error(a, b):\n    return float(np.abs(a - b).max())\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        register_metric(Metric("test-max-error", "max error", "", False, 0.0, 255.0, 1, "largest absolute error",
                               compute="maxerr_metric:max_error"))  # fmt: skip
        base = get_task("denoise-demo-s25")
        task = base.model_copy(update={"metric": base.metric.model_copy(update={"extra": ["test-max-error"]})})
        identity = load_submission(REPO / "submissions/baselines/identity")
        result = evaluate(make_plan(identity, task, latency=LatencySettings(**FAST_LATENCY), devices=["cpu-torch"]))
        stored = _store_and_read(tmp_path, result)
    finally:
        sys.path.remove(str(tmp_path))
        METRICS.remove("test-max-error")
    per_image = [image.value("test-max-error") for image in result.metrics.per_image]
    assert all(v is not None and 0 < v <= 255 for v in per_image)
    assert result.metrics.value("test-max-error") == pytest.approx(float(np.mean(per_image)))
    images, row, columns, image_columns = stored
    assert [i.extra["test-max-error"] for i in images] == per_image
    assert row["test-max-error"] == pytest.approx(result.metrics.value("test-max-error"))
    assert "test-max-error" in columns and "test-max-error" in image_columns


def _store_and_read(folder: Path, result: Result) -> tuple[list[Any], dict[str, Any], list[str], list[str]]:
    """Store ``result`` and read it back as the store, the board rows and the two exports see it."""
    store = Store(f"sqlite:///{folder / 'r.db'}")
    run_id = store.add(Result.model_validate_json(result.model_dump_json()))
    row = leaderboard_rows(store.engine)[0]
    return store.image_scores(run_id), row, list(table(store).columns), list(table(store, per_image=True).columns)
