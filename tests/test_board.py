"""The Streamlit board (AppTest against a temporary SQLite store) and its data-shaping views."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bench.results import LatencyResult, Metrics, Provenance, Result, SubmissionInfo
from bench.runtime.complexity import Complexity
from bench.store import Store
from leaderboards import views

APP = str(Path(__file__).resolve().parent.parent / "leaderboards" / "app.py")
TIMEOUT = 60


def make_result(
    task: str, name: str, psnr: float, latencies: dict[str, float], version: int = 1, team: str = "lab"
) -> Result:
    """A complete Result built directly with pydantic (no model is run)."""
    return Result(
        task=task,
        task_version=version,
        submission=SubmissionInfo(
            name=name,
            team=team,
            sha256=hashlib.sha256(name.encode()).hexdigest(),
            format="onnx",
            architecture=None,
            tags=["lightweight"],
            precision="fp32",
        ),
        metrics=Metrics(psnr=psnr, ssim=0.9, lpips=None, per_image=[]),
        latency=[
            LatencyResult(
                device=device,
                backend=device.split("-")[-1],
                precision="fp32",
                threads=4,
                input_shape=(1, 3, 64, 64),
                median_ms=ms,
                p90_ms=ms * 1.1,
                mean_ms=ms,
                min_ms=ms * 0.9,
                max_ms=ms * 1.2,
                runs=20,
                cv=0.02,
            )
            for device, ms in latencies.items()
        ],
        complexity=Complexity(macs=2_500_000_000, params=1_000_000, conv_traffic_bytes=1, input_shape=(1, 3, 64, 64)),
        provenance=Provenance(
            bench_version="0.1.0",
            git_commit=None,
            python="3.11",
            torch="2.13.0",
            backends={},
            host="test",
            platform="linux",
            started_at="2025-01-01T00:00:00Z",
            duration_s=1.0,
            data_folder="embedded",
            latency_settings={"runs": 20},
        ),
    )


# name -> (psnr, {device: median ms}); on cpu-torch: fast/good/best are on the front,
# slow-bad and twin-of-good (equal PSNR, slower) are dominated, dup-best duplicates best.
SR = {
    "fast": (30.0, {"cpu-torch": 1.0, "cpu-onnxruntime": 0.8}),
    "good": (32.0, {"cpu-torch": 5.0, "cpu-onnxruntime": 9.0}),
    "best": (34.0, {"cpu-torch": 50.0}),
    "dup-best": (34.0, {"cpu-torch": 50.0}),
    "slow-bad": (29.0, {"cpu-torch": 60.0, "cpu-onnxruntime": 70.0}),
    "twin-of-good": (32.0, {"cpu-torch": 7.0, "cpu-onnxruntime": 3.0}),
}
DENOISE = {"denoiser-a": (28.0, {"cpu-torch": 2.0}), "denoiser-b": (29.5, {"cpu-torch": 4.0})}


def brute_front(points: list[tuple[float, float]]) -> set[int]:
    return {i for i, (x, y) in enumerate(points) if not any(a <= x and b >= y and (a, b) != (x, y) for a, b in points)}


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    monkeypatch.setenv("BENCH_DB", url)
    return url


@pytest.fixture
def filled_store(store_url: str) -> str:
    store = Store(store_url)
    for name, (psnr, lat) in SR.items():
        store.add(make_result("sr-set5-x2", name, psnr, lat))
    for name, (psnr, lat) in DENOISE.items():
        store.add(make_result("denoise-demo-s25", name, psnr, lat))
    store.add(make_result("retired-task", "old-model", 25.0, {"cpu-torch": 3.0}))
    return store_url


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_empty_store_shows_info(store_url: str) -> None:
    at = run_app()
    assert at.title[0].value.startswith("Efficient image restoration")
    assert len(at.info) == 1
    assert "bench demo" in at.info[0].value and "bench score" in at.info[0].value
    assert len(at.error) == 0
    assert len(at.dataframe) == 0


def test_table_and_task_switch(filled_store: str) -> None:
    at = run_app()
    task = at.selectbox(key="task")
    assert len(task.options) == 3  # tasks with results only
    assert task.value == "denoise-demo-s25"
    table = at.dataframe[0].value
    assert set(table["submission"]) == set(DENOISE)
    assert list(table["PSNR (dB)"]) == sorted(table["PSNR (dB)"], reverse=True)

    task.set_value("sr-set5-x2")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["submission"]) == set(SR)
    assert list(table["PSNR (dB)"]) == sorted(table["PSNR (dB)"], reverse=True)
    assert {"device", "median latency (ms)", "p90 (ms)", "MACs (G)", "params", "tags", "date"} <= set(table)
    assert table["MACs (G)"].iloc[0] == pytest.approx(2.5)
    assert set(table["latency kind"]) == {"measured"}
    assert any("measured" in caption.value for caption in at.caption)
    # the device selector lists the task's devices, most-measured first
    assert at.selectbox[-1].options == ["cpu-torch", "cpu-onnxruntime"]


def test_task_labels_tolerate_unregistered_ids(filled_store: str) -> None:
    at = run_app()
    options = at.selectbox(key="task").options
    assert "retired-task (not registered)" in options
    assert any(option.endswith("(sr-set5-x2)") for option in options)
    at.selectbox(key="task").set_value("retired-task").run()
    assert not at.exception
    assert list(at.dataframe[0].value["submission"]) == ["old-model"]


def test_pareto_column_matches_brute_force(filled_store: str) -> None:
    at = run_app()
    at.selectbox(key="task").set_value("sr-set5-x2").run()
    table = at.dataframe[0].value
    for device, group in table.groupby("device"):
        points = list(zip(group["median latency (ms)"], group["PSNR (dB)"], strict=True))
        expected = {group["submission"].iloc[i] for i in brute_front(points)}
        marked = set(group.loc[group["Pareto"], "submission"])
        assert marked == expected, device
    on_torch = table[(table["device"] == "cpu-torch") & table["Pareto"]]
    assert set(on_torch["submission"]) == {"fast", "good", "best", "dup-best"}
    on_ort = table[(table["device"] == "cpu-onnxruntime") & table["Pareto"]]
    assert set(on_ort["submission"]) == {"fast", "twin-of-good"}


def test_single_result(store_url: str) -> None:
    Store(store_url).add(make_result("sr-set5-x4", "only", 27.0, {"cpu-torch": 12.0}))
    at = run_app()
    table = at.dataframe[0].value
    assert list(table["submission"]) == ["only"] and bool(table["Pareto"].iloc[0])


def test_versions_are_not_mixed(store_url: str) -> None:
    store = Store(store_url)
    store.add(make_result("sr-set5-x2", "v1-model", 30.0, {"cpu-torch": 1.0}, version=1))
    store.add(make_result("sr-set5-x2", "v2-model", 29.0, {"cpu-torch": 2.0}, version=2))
    at = run_app()
    assert list(at.dataframe[0].value["submission"]) == ["v2-model"]


# --- views without Streamlit ---------------------------------------------------------------


def test_views_empty_and_helpers() -> None:
    assert views.task_table([]).empty
    assert list(views.task_table([]).columns) == list(views.TABLE_COLUMNS.values())
    assert views.db_argument(["--db", "sqlite:///x.db"]) == "sqlite:///x.db"
    assert views.db_argument(["-q", "tests/test_board.py"]) is None
    assert views.use_log_scale([1.0, 5.0]) is False
    assert views.use_log_scale([1.0, 10.5]) is True
    assert views.use_log_scale([0.0, 100.0]) is False
    assert views.task_label("x", {}) == "x (not registered)"
    assert views.task_label("x", {"x": "Title"}) == "Title (x)"


def test_views_chart_and_front(filled_store: str) -> None:
    rows = views.select_rows(Store(filled_store).leaderboard_rows(), "sr-set5-x2")
    frame = views.device_frame(rows, "cpu-torch")
    line = views.front_line(frame)
    assert list(line["median_ms"]) == sorted(line["median_ms"])
    assert set(line["submission"]) == {"fast", "good", "best", "dup-best"}
    spec = views.scatter_chart(frame).to_dict()
    assert spec["layer"][0]["mark"]["interpolate"] == "step-after"
    assert spec["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"  # 1 ms .. 60 ms
    assert isinstance(views.board_frame(rows), pd.DataFrame)
