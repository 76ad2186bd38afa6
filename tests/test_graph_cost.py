"""MACs, parameters and conv traffic counted from ONNX and TFLite graphs agree with the PyTorch count."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.models import build_model
from bench.runtime.complexity import count_complexity, file_complexity
from bench.runtime.convert import to_onnx, to_tflite
from bench.submission import load_submission
from tests.conftest import REPO

SHAPE = (1, 3, 64, 64)


def test_fsrcnn_x2_counts_the_same_as_safetensors_onnx_and_tflite(tmp_path: Path) -> None:
    module = load_submission(REPO / "submissions/reference/fsrcnn-x2").model({"scale": 2})
    counted = count_complexity(module, SHAPE)
    to_onnx(module, SHAPE, tmp_path / "m.onnx")
    to_tflite(module, SHAPE, tmp_path / "m.tflite")
    onnx, tflite = file_complexity(tmp_path / "m.onnx", SHAPE), file_complexity(tmp_path / "m.tflite", SHAPE, "NHWC")
    # the shipped model wraps the Y network with fixed colour matrices and bicubic chroma kernels: buffers to
    # PyTorch, constants to a file, which cannot tell them from weights
    constants = counted.params + sum(b.numel() for b in module.buffers())
    for graph in (onnx, tflite):
        assert graph.macs == pytest.approx(counted.macs, rel=0.01)
        assert graph.conv_traffic_bytes == pytest.approx(counted.conv_traffic_bytes, rel=0.01)
        assert graph.params == pytest.approx(constants, rel=0.01)


def test_an_rgb_network_without_constants_counts_its_parameters(tmp_path: Path) -> None:
    module = build_model("fsrcnn", {"colour": "rgb"}, {"scale": 2})
    torch.manual_seed(0)
    with torch.no_grad():  # distinct values, as trained weights have (exporters share identical constants)
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    counted = count_complexity(module, SHAPE)
    to_onnx(module, SHAPE, tmp_path / "m.onnx")
    to_tflite(module, SHAPE, tmp_path / "m.tflite", "fp16")  # fp16 weights count as parameters too
    for graph in (file_complexity(tmp_path / "m.onnx", SHAPE), file_complexity(tmp_path / "m.tflite", SHAPE, "NHWC")):
        assert graph.params == pytest.approx(counted.params, rel=0.01)
        assert graph.macs == pytest.approx(counted.macs, rel=0.01)


def test_the_boards_macs_chart_shows_onnx_and_tflite_entries(tmp_path: Path) -> None:
    from bench.plan import make_plan
    from bench.runtime.protocol import LatencySettings
    from bench.scoring import evaluate
    from bench.store import Store
    from bench.tasks import get_task
    from leaderboards import charts, frames

    task = get_task("denoise-demo-s25")  # 256 x 256 images: a fixed-shape TFLite file scores them all
    module = load_submission(REPO / "submissions/reference/dncnn-color-s25").model({"scale": 1})
    fast = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)
    store = Store(str(tmp_path / "r.db"))
    for fmt, convert in (("onnx", to_onnx), ("tflite", to_tflite)):
        folder = tmp_path / fmt
        folder.mkdir()
        convert(module, task.latency.input_shape, folder / f"m.{fmt}")
        (folder / "submission.yaml").write_text(
            f"name: dncnn-{fmt}\nteam: tests\ntasks: [{task.id}]\nformat: {fmt}\nfiles: {{model: m.{fmt}}}\n"
        )
        store.add(evaluate(make_plan(load_submission(folder), task, latency=fast)))
    frame = frames.board_frame(store.leaderboard_rows(task.id))
    spec = charts.quality_cost_chart(frame, cost="macs_g").to_dict()
    points = [row for dataset in spec["datasets"].values() for row in dataset]
    shown = {row["submission"]: row["macs_g"] for row in points if row.get("macs_g") is not None}
    expected = count_complexity(module, task.latency.input_shape).macs / 1e9
    assert shown == pytest.approx({"dncnn-onnx": expected, "dncnn-tflite": expected}, rel=0.01)
