"""A call's cost known before it runs (bench.budgets): checked against counts made another way, and hostile
models refused over a budget, exit 2, nothing run, the store untouched."""

from __future__ import annotations

import time
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.torch import save_file

from bench.budgets import onnx_cost, torch_cost
from bench.cli import main
from bench.models import build_model
from bench.runtime.complexity import count_complexity

TASK = "denoise-demo-s25"


def _ghost(name: str, args: dict[str, object]) -> torch.nn.Module:
    with torch.device("meta"):
        return build_model(name, args, {"scale": 2})


@pytest.mark.parametrize(("name", "args"), [("edsr-baseline", {}), ("fsrcnn", {}), ("dncnn", {"num_layers": 5})])
def test_meta_costs_equal_the_counts_of_the_real_model(name: str, args: dict[str, object]) -> None:
    """MACs on the meta device equal FlopCounterMode's count on the real model with real tensors; the largest
    operation of EDSR x2 at 1x3x40x30 is its pixel shuffle: 256 channels in, 64 out at twice the size."""
    shape = (1, 3, 40, 30)
    real = count_complexity(build_model(name, args, {"scale": 2}), shape)
    cost = torch_cost(_ghost(name, args), shape)
    assert cost.macs == real.macs and cost.macs_complete
    if name == "edsr-baseline":
        assert cost.peak_op == "pixel_shuffle.default" and cost.peak_bytes == 4 * (256 * 40 * 30 + 64 * 80 * 60)


def test_onnx_shape_inference_counts_what_the_meta_device_counts(tmp_path: Path) -> None:
    """An EDSR exported by torch.onnx.export with dynamic height and width, costed from the file alone at a
    shape it was never run at: MACs and the largest operation equal the PyTorch module's."""
    model = build_model("edsr-baseline", {}, {"scale": 2}).eval()
    path = tmp_path / "edsr.onnx"
    torch.onnx.export(model, torch.zeros(1, 3, 16, 16), str(path), input_names=["x"], dynamo=False,
                      dynamic_axes={"x": {2: "h", 3: "w"}})  # fmt: skip
    shape = (1, 3, 120, 90)
    from_file, from_module = onnx_cost(path, shape), torch_cost(_ghost("edsr-baseline", {}), shape)
    assert from_file.macs == from_module.macs and from_file.macs_complete
    assert from_file.peak_bytes == from_module.peak_bytes and "DepthToSpace" in from_file.peak_op


def _submission(root: Path, body: str) -> Path:
    folder = root / "sub"
    folder.mkdir(exist_ok=True)
    (folder / "submission.yaml").write_text(f"name: costly\nteam: t\ntasks: [{TASK}]\n{body}")
    return folder


def _refused(capsys: pytest.CaptureFixture[str], store: str, *argv: str) -> str:
    start = time.monotonic()
    code = main(["score", *argv, "--task", TASK, "--quick"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and err.startswith("error:") and "Traceback" not in err, err
    assert time.monotonic() - start < 60
    from bench.store import Store

    with Store(store).engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM runs").scalar() == 0
    return err


def test_activations_over_the_memory_limit_are_refused_before_the_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """Two 1x1 convolutions (3 -> 200,000 -> 3 channels: 1.4 M parameters) on a 256x256 demo image need
    200,000 x 256 x 256 x 4 bytes = 48.8 GiB for one activation: refused from the meta-device count."""
    folder = _submission(tmp_path, "format: safetensors\narchitecture: {name: test-wide, args: {channels: 200000}}\n")
    save_file(build_model("test-wide", {"channels": 200000}, {}).state_dict(), str(folder / "w.safetensors"))
    (folder / "submission.yaml").write_text(
        (folder / "submission.yaml").read_text() + "files: {weights: w.safetensors}\n"
    )
    err = _refused(capsys, isolated_store, str(folder))
    assert "at input 1x3x256x256: its largest single operation (conv2d.default) needs 48.8 GiB" in err
    assert "over the memory limit of 16 GiB (--memory-limit); refused before running it" in err


def test_multiply_accumulates_over_the_budget_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    folder = _submission(tmp_path, "format: safetensors\narchitecture: {name: test-wide, args: {channels: 64}}\n")
    save_file(build_model("test-wide", {"channels": 64}, {}).state_dict(), str(folder / "w.safetensors"))
    (folder / "submission.yaml").write_text(
        (folder / "submission.yaml").read_text() + "files: {weights: w.safetensors}\n"
    )
    err = _refused(capsys, isolated_store, str(folder), "--mac-limit", "1M")
    assert "T multiply-accumulates, over the budget of 1e-06 T per call; refused before running it" in err


def test_an_onnx_graph_that_inflates_its_input_is_refused_from_its_declared_shapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """A 300-byte ONNX file: Resize by 64 in height and width, then back down. Shape inference alone shows a
    3 x 16384 x 16384 float tensor (3 GiB) on a 256x256 image; refused under a 2 GiB limit without running."""
    scales = helper.make_tensor("up", TensorProto.FLOAT, [4], [1, 1, 64, 64])
    down = helper.make_tensor("down", TensorProto.FLOAT, [4], [1, 1, 1 / 64, 1 / 64])
    graph = helper.make_graph(
        [
            helper.make_node("Resize", ["x", "", "up"], ["big"], mode="nearest"),
            helper.make_node("Resize", ["big", "", "down"], ["y"], mode="nearest"),
        ],
        "inflate",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [scales, down],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = _submission(tmp_path, "format: onnx\nfiles: {model: m.onnx}\n")
    onnx.save(model, str(folder / "m.onnx"))
    assert onnx_cost(folder / "m.onnx", (1, 3, 512, 512)).peak_bytes == 4 * 3 * (512**2 + (64 * 512) ** 2)
    err = _refused(capsys, isolated_store, str(folder), "--memory-limit", "2G")
    assert "its largest single operation (Resize" in err and "over the memory limit of 2 GiB" in err
