"""bench optimize portable: delegate coverage, the op probe on real backends, the space, selection, a tiny search."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from bench.cli import main
from bench.models.portable_arch import ACTS, DOWNS, SKIPS, UPS, unet_portable
from bench.optimize.portable.probe import CHOICE_OPS, OpProbe, portable_ops, probe_op
from bench.optimize.portable.search import Evaluated, PortableSearchError, UNetSpace, ops_of, select
from bench.runtime.backends.tflite_backend import fallback_ops
from bench.runtime.devices import get_device
from bench.submission import load_submission


def _node(name: str, inputs: list[int], outputs: list[int]) -> dict[str, object]:
    return {"op_name": name, "inputs": inputs, "outputs": outputs}


def test_fallback_ops_from_the_node_list_after_delegation() -> None:
    # conv(0->1) -> conv(1->2) delegated as one partition; resize(2->3) outside; conv(3->4) delegated again
    nodes = [
        _node("CONV_2D", [0, 10], [1]), _node("CONV_2D", [1, 11], [2]), _node("RESIZE_NEAREST_NEIGHBOR", [2], [3]),
        _node("CONV_2D", [3, 12], [4]), _node("DELEGATE", [0], [2]), _node("DELEGATE", [3], [4]),
    ]  # fmt: skip
    assert fallback_ops(nodes, graph_outputs={4}) == ["RESIZE_NEAREST_NEIGHBOR"]
    # the outside op is last and writes the graph output
    tail = [_node("CONV_2D", [0, 10], [1]), _node("TRANSPOSE_CONV", [1, 11], [2]), _node("DELEGATE", [0], [1])]
    assert fallback_ops(tail, graph_outputs={2}) == ["TRANSPOSE_CONV"]
    # a chain of two outside ops before a delegate: the first is found through the second
    head = [_node("MUL", [0], [1]), _node("SUB", [1], [2]), _node("CONV_2D", [2, 9], [3]), _node("DELEGATE", [2], [3])]
    assert fallback_ops(head, graph_outputs={3}) == ["MUL", "SUB"]
    assert fallback_ops([_node("CONV_2D", [0], [1])], graph_outputs={1}) == ["CONV_2D"]  # no delegate at all
    assert fallback_ops([_node("CONV_2D", [0], [1]), _node("DELEGATE", [0], [1])], graph_outputs={1}) == []


def test_probe_finds_xnnpack_leaves_nearest_resize_outside() -> None:
    """Measured on ai-edge-litert's XNNPACK: a 3x3 conv is delegated, RESIZE_NEAREST_NEIGHBOR is not."""
    device, shape = get_device("cpu-tflite"), (1, 8, 8, 8)
    conv = probe_op("conv3x3", device, shape)
    assert conv.status == "accelerated" and conv.max_error is not None and conv.max_error < 1e-5
    nearest = probe_op("resize-nearest", device, shape)
    assert nearest.status == "fallback" and nearest.fallback_ops == ["RESIZE_NEAREST_NEIGHBOR"]
    reference = probe_op("conv3x3", get_device("cpu-tflite-ref"), shape)
    assert reference.status == "runs" and reference.latency_ms is not None and reference.latency_ms > 0
    assert portable_ops([conv, nearest, reference]) == {"conv3x3"}


def test_every_choice_builds_and_keeps_the_image_size() -> None:
    x = torch.rand(1, 3, 13, 18)  # not a multiple of 4: padded and cropped back
    for down in DOWNS:
        for up in UPS:
            model = unet_portable(width=8, levels=3, down=down, up=up, skip="concat", act="prelu")
            assert model(x).shape == x.shape
    for skip in SKIPS:
        for act in ACTS:
            assert unet_portable(width=8, levels=2, skip=skip, act=act)(x).shape == x.shape
    model = unet_portable(width=8, levels=2)
    tail = model.tail
    assert isinstance(tail, torch.nn.Conv2d) and tail.bias is not None
    torch.nn.init.zeros_(tail.weight)
    torch.nn.init.zeros_(tail.bias)
    assert torch.equal(model(x), x)  # a zero correction returns the input (global residual)
    assert F.mse_loss(model(x), x) == 0


def test_the_restricted_space_drops_choices_whose_ops_are_not_portable() -> None:
    all_ops = {op for ops in CHOICE_OPS.values() for op in ops} | {"conv3x3", "conv1x1", "add"}
    space = UNetSpace().restricted(all_ops - {"resize-nearest", "act-prelu"})
    assert "nearest" not in space.ups and "prelu" not in space.acts and "bilinear" in space.ups
    assert ops_of({"down": "maxpool", "up": "deconv", "skip": "concat", "act": "relu"}) == {
        "conv3x3", "conv1x1", "add", "maxpool", "deconv", "concat", "act-relu",
    }  # fmt: skip
    with pytest.raises(PortableSearchError, match="conv1x1"):
        UNetSpace().restricted(all_ops - {"conv1x1"})
    with pytest.raises(PortableSearchError, match="up option"):
        UNetSpace().restricted(all_ops - {"depth-to-space", "deconv", "resize-bilinear", "resize-nearest"})


def _row(name: str, psnr: float, latency: dict[str, float], portable: bool = True) -> Evaluated:
    return Evaluated("unconstrained", {}, name, portable, psnr, latency)


def test_selection_takes_the_fastest_worst_case_within_the_tolerance() -> None:
    rows = [
        _row("best", 30.00, {"a": 10.0, "b": 50.0}, portable=False),
        _row("close-slow", 29.95, {"a": 5.0, "b": 40.0}),
        _row("close-fast", 29.85, {"a": 20.0, "b": 30.0}),  # best worst-case within 0.2 dB
        _row("far-fastest", 29.00, {"a": 1.0, "b": 2.0}),
        _row("broken", 29.99, {"a": 1.0, "b": math.inf}),
    ]
    best, result = select(rows, tolerance_db=0.2)
    assert best.description == "best" and result.description == "close-fast"
    assert rows[2].worst_ms == 30.0 and abs(rows[2].geomean_ms - math.sqrt(600.0)) < 1e-9
    _, fallback = select(rows, tolerance_db=0.01)  # nothing portable that close: the best portable PSNR
    assert fallback.description == "close-slow"
    with pytest.raises(PortableSearchError, match="portable"):
        select([rows[0]], 0.2)


def test_tiny_portable_search_end_to_end(
    train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "portable"
    code = main([
        "optimize", "portable", "--task", "deblur-demo-motion", "--devices", "cpu-torch,cpu-torch-cl",
        "--candidates", "1", "--steps", "2", "--final-steps", "2", "--batch", "2", "--patch", "32",
        "--latency-shape", "1x3x16x16", "--data", str(train_folder), "--held-out", "1", "--held-out-crop", "48",
        "--out", str(out), "--quiet",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((out / "portable-report.json").read_text())
    assert len(report["probes"]) == 2 * 16 and {p["device"] for p in report["probes"]} == {
        "cpu-torch",
        "cpu-torch-cl",
    }
    assert {row["group"] for row in report["evaluated"]} == {"unconstrained", "portable"}
    assert all(set(row["latency_ms"]) == {"cpu-torch", "cpu-torch-cl"} for row in report["evaluated"])
    assert report["final"]["images"] == 4 and report["portable_result"]["portable"] is True
    assert set(report["pareto_fronts"]) == {"cpu-torch", "cpu-torch-cl", "worst-case"}
    submission = load_submission(out)
    assert submission.manifest.architecture is not None
    assert submission.manifest.architecture.args == report["portable_result"]["args"]
    submission.build({})
    assert "per-op portability probe" in printed and "portable submission" in printed


def test_portable_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = ["optimize", "portable", "--devices", "cpu-torch"]
    assert main([*port, "--task", "sr-set5-x2", "--out", str(tmp_path / "a")]) == 2
    assert "deblurring" in capsys.readouterr().err
    assert OpProbe("x", "d", "runs").status == "runs"
