"""Hostile ONNX and TFLite graphs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.hostile.base import (
    ONNX_GOOD,
    TASK,
    Attempt,
    case,
    folder,
    onnx_case,
    score,
)

# -- ONNX and TFLite graphs ----------------------------------------------------------------------------


@case("ONNX garbage bytes")
def _(root: Path) -> Attempt:
    sub = folder(root, ONNX_GOOD)
    (sub / "m.onnx").write_bytes(os.urandom(2048))
    return Attempt(score(sub), "failed its checks")


@case("ONNX Loop with a trip count of 10^15")
def _(root: Path) -> Attempt:
    trips = numpy_helper.from_array(np.array(10**15, dtype="int64"), "trips")
    keep = numpy_helper.from_array(np.array(True), "keep")
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    loop = helper.make_node("Loop", ["trips", "keep", "x"], ["y"], body=body)
    return onnx_case(root, [loop], "within the per-image limit of 5 s; its process was stopped", "--image-limit", "5",
                     inits=[trips, keep])  # fmt: skip


@case("ONNX with a fixed 48x48 input")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Identity", ["x"], ["y"])], "failed on denoise-demo-s25",
                     shape=[1, 3, 48, 48])  # fmt: skip


@case("ONNX output of the wrong size")
def _(root: Path) -> Attempt:
    pads = numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 2, 2], dtype="int64"), "pads")
    return onnx_case(root, [helper.make_node("Pad", ["x", "pads"], ["y"])], "output shape", inits=[pads])


@case("ONNX output on the 0..255 scale")
def _(root: Path) -> Attempt:
    k = numpy_helper.from_array(np.array([255.0], dtype="float32"), "k")
    return onnx_case(root, [helper.make_node("Mul", ["x", "k"], ["y"])], "this looks like 0..255", inits=[k])


@case("ONNX NaN output")
def _(root: Path) -> Attempt:
    k = numpy_helper.from_array(np.array([0.0], dtype="float32"), "k")
    nodes = [helper.make_node("Mul", ["x", "k"], ["z"]), helper.make_node("Div", ["z", "z"], ["y"])]
    return onnx_case(root, nodes, "NaN/Inf values", inits=[k])


@case("ONNX random output")
def _(root: Path) -> Attempt:
    nodes = [helper.make_node("RandomUniformLike", ["x"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])]
    return onnx_case(root, nodes, "deterministic")


@case("ONNX custom operator domain")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Exec", ["x"], ["y"], domain="com.evil")], "failed its checks")


@case("ONNX opset 999")
def _(root: Path) -> Attempt:
    return onnx_case(root, [helper.make_node("Identity", ["x"], ["y"])], "failed its checks", opset=999)


@case("ONNX inflating its input 64x")
def _(root: Path) -> Attempt:
    up = numpy_helper.from_array(np.array([1, 1, 64, 64], dtype="float32"), "up")
    down = numpy_helper.from_array(np.array([1, 1, 1 / 64, 1 / 64], dtype="float32"), "down")
    nodes = [helper.make_node("Resize", ["x", "", "up"], ["big"], mode="nearest"),
             helper.make_node("Resize", ["big", "", "down"], ["y"], mode="nearest")]  # fmt: skip
    return onnx_case(root, nodes, "over the memory limit of 2 GiB", "--memory-limit", "2G", inits=[up, down])


@case("TFLite garbage bytes")
def _(root: Path) -> Attempt:
    sub = folder(root, f"name: h\nteam: t\ntasks: [{TASK}]\nformat: tflite\nfiles: {{model: m.tflite}}\n")
    (sub / "m.tflite").write_bytes(b"TFL3" + os.urandom(4096))
    return Attempt(score(sub), "The model is not a valid Flatbuffer buffer")
