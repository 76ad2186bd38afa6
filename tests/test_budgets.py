"""A call's cost known before it runs (bench.budgets), checked against counts made another way. The refusals
over a budget (activations, MACs, an inflating ONNX graph) are cases of the hostile corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.budgets import onnx_cost, torch_cost
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


def test_a_tflite_file_is_costed_from_its_declared_shapes_as_the_module_is(tmp_path: Path) -> None:
    """A conv + pixel shuffle converted by litert-torch at 1x3x16x16: MACs from the file's tensor shapes equal
    the module's (and the converter's own estimate, 0.084 M); the largest operation's bytes differ only by the
    small int32 permutation operand of the NHWC transposes the converter adds."""
    from bench.budgets import tflite_cost
    from bench.runtime.convert import to_tflite

    model = build_model("test-tiny-sr", {}, {"scale": 2}).eval()
    to_tflite(model, (1, 3, 16, 16), tmp_path / "m.tflite")
    from_file, from_module = tflite_cost(tmp_path / "m.tflite"), torch_cost(_ghost("test-tiny-sr", {}), (1, 3, 16, 16))
    assert from_file.macs == from_module.macs == 16 * 16 * 12 * 27
    assert 0 <= from_file.peak_bytes - from_module.peak_bytes <= 16
