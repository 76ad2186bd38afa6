"""Layer-by-layer costs read from an ONNX or TFLite graph at a given input shape, without running it.

Each operator becomes a :class:`Layer`: its multiply-accumulates, the bytes of its inputs and outputs,
and, for a convolution, the elements it reads and writes. The counts follow
:func:`bench.runtime.complexity.count_complexity` (PyTorch's ``FlopCounterMode`` and conv hooks), so
the same network counts the same from any format:

* ``Conv`` / ``CONV_2D`` / ``DEPTHWISE_CONV_2D``: output elements x (kernel height x width x C_in / groups);
* ``ConvTranspose`` / ``TRANSPOSE_CONV``: input elements x (kernel x C_out / groups);
* ``MatMul`` / ``Gemm`` / ``FULLY_CONNECTED``: output elements x K (the reduced dimension);
* resize, pixel shuffle (``DepthToSpace`` / ``DEPTH_TO_SPACE``), activations, additions: 0 MACs (gathers
  and element-wise work, uncounted in every efficiency table and by ``FlopCounterMode``).

Conv memory traffic per image (Wang et al. 2019): 4 bytes x (input elements + output elements + weight
elements) / batch for each convolution, as the PyTorch hook counts it. Parameters: the elements of the
graph's floating-point constants. A file cannot tell a learned weight from a fixed constant (a colour
matrix, a bicubic kernel), so it counts both, where PyTorch counts only ``nn.Parameter`` s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ONNX_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # elem_type -> bytes
_ONNX_FLOAT = {1, 10, 11, 16}  # float, float16, double, bfloat16
_ONNX_MACS_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
_ONNX_CONVS = {"Conv", "ConvTranspose"}
_TFLITE_CONVS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"}
TRAFFIC_BYTES = 4  # fp32, as count_complexity


@dataclass(frozen=True)
class Layer:
    """One operator: ``macs`` None where a shape it needs is unknown; ``traffic`` (elements) only for convs."""

    op: str
    macs: int | None
    bytes: int
    traffic: int = 0


@dataclass(frozen=True)
class GraphCost:
    """The layers of a graph at one input shape and the elements of its floating-point constants."""

    layers: list[Layer]
    params: int
    input_shape: tuple[int, ...] = ()  # the input the counts are for, in the file's own axis order

    @property
    def macs(self) -> int:
        return sum(layer.macs or 0 for layer in self.layers)

    @property
    def macs_complete(self) -> bool:
        return all(layer.macs is not None for layer in self.layers)

    @property
    def conv_traffic_bytes(self) -> int:
        return TRAFFIC_BYTES * sum(layer.traffic for layer in self.layers)

    @property
    def peak(self) -> Layer | None:
        """The layer whose inputs and outputs take the most bytes."""
        return max(self.layers, key=lambda layer: layer.bytes, default=None)


# -- ONNX: shape inference -------------------------------------------------------------------------------


def onnx_graph_cost(path: Path, shape: tuple[int, ...]) -> GraphCost:
    """Costs of the ONNX graph at ``path`` with its first input set to ``shape`` (the file's own axis order).
    External data is not read: weights' shapes are in the graph, only their values live outside."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path), load_external_data=False)
    graph_input = model.graph.input[0].type.tensor_type.shape
    if len(graph_input.dim) != len(shape):
        raise ValueError(f"the graph's input has {len(graph_input.dim)} dimensions, the call {len(shape)}")
    for dim, value in zip(graph_input.dim, shape, strict=True):
        dim.ClearField("dim_param")
        dim.dim_value = value
    inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    sizes: dict[str, tuple[int, tuple[int, ...]]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor = info.type.tensor_type
        shaped = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
        if tensor.HasField("shape") and all(d >= 0 for d in shaped):
            sizes[info.name] = (_ONNX_BYTES.get(tensor.elem_type, 4) * math.prod(shaped), shaped)
    weights = {i.name: tuple(i.dims) for i in inferred.graph.initializer}
    params = sum(math.prod(i.dims) for i in inferred.graph.initializer if i.data_type in _ONNX_FLOAT)
    params += sum(_constant_elements(node) for node in inferred.graph.node if node.op_type == "Constant")

    def dims(name: str) -> tuple[int, ...] | None:
        return weights.get(name) or (sizes[name][1] if name in sizes else None)

    layers = []
    for node in inferred.graph.node:
        known = sum(sizes[n][0] for n in [*node.input, *node.output] if n in sizes)
        macs: int | None = 0
        traffic = 0
        if node.op_type in _ONNX_MACS_OPS:
            a, b, out = dims(node.input[0]), dims(node.input[1]), dims(node.output[0])
            macs = None if a is None or b is None or out is None else _macs(node.op_type, a, b, out)
            if node.op_type in _ONNX_CONVS and a is not None and b is not None and out is not None:
                traffic = (math.prod(a) + math.prod(out)) // max(a[0], 1) + math.prod(b)
        layers.append(Layer(f"{node.op_type} {node.name!r}".strip(), macs, known, traffic))
    return GraphCost(layers, int(params), tuple(shape))


def _constant_elements(node: Any) -> int:
    """Elements of a floating-point ``Constant`` node's tensor (0 for integer constants: shapes, axes)."""
    for attribute in node.attribute:
        if attribute.name == "value" and attribute.t.data_type in _ONNX_FLOAT:
            return math.prod(attribute.t.dims)
    return 0


def _macs(op: str, a: tuple[int, ...], b: tuple[int, ...], out: tuple[int, ...]) -> int:
    if op == "Conv":  # each output element: C_in / groups x kernel
        return math.prod(out) * math.prod(b[1:])
    if op == "ConvTranspose":  # each input element scatters into C_out / groups x kernel
        return math.prod(a) * math.prod(b[1:])
    return math.prod(out) * a[-1]  # MatMul / Gemm: each output element is a dot product of length K


# -- TFLite: the interpreter's tensor table --------------------------------------------------------------


def tflite_graph_cost(path: Path, shape: tuple[int, ...] | None = None) -> GraphCost:
    """Costs of the TFLite file at ``path``: at its declared shapes (nothing allocated), or with its input
    resized to ``shape`` (the file's own axis order) where its signature lets it (shapes then propagate,
    which allocates the arena, so a caller checks the declared-shape cost first); a file with a fixed
    input is counted at that input, the only one it runs."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES  # XNNPACK would fold ops into one DELEGATE node
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    params = 0
    for detail in interpreter.get_tensor_details():  # before allocation only constants have data
        try:
            value = interpreter.get_tensor(detail["index"])
        except ValueError:
            continue
        if value.dtype.kind == "f":
            params += int(value.size)
    detail = interpreter.get_input_details()[0]
    declared, signature = tuple(int(d) for d in detail["shape"]), [int(d) for d in detail["shape_signature"]]
    resizable = shape is not None and len(signature) == len(shape) and all(
        s in (-1, v) for s, v in zip(signature, shape, strict=True))  # fmt: skip
    if shape is not None and declared != tuple(shape) and resizable:  # a fixed file counts at its own shape
        interpreter.resize_tensor_input(detail["index"], list(shape), strict=True)
        interpreter.allocate_tensors()
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    counted = tuple(int(d) for d in interpreter.get_input_details()[0]["shape"])

    def dims(index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in tensors[index]["shape"])

    def nbytes(index: int) -> int:
        return math.prod(dims(index)) * int(tensors[index]["dtype"](0).nbytes)

    layers = []
    for node in interpreter._get_ops_details():  # the interpreter's only view of its graph
        name, inputs, outputs = str(node["op_name"]), node["inputs"], node["outputs"]
        used = sum(nbytes(i) for i in [*inputs, *outputs] if i >= 0)
        macs, traffic = 0, 0
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel = dims(inputs[1])[1:] if name == "CONV_2D" else dims(inputs[1])[1:3]
            macs = math.prod(dims(outputs[0])) * math.prod(kernel)
            source, weight = dims(inputs[0]), dims(inputs[1])
        elif name == "TRANSPOSE_CONV":  # inputs: output shape, weights (C_out, kh, kw, C_in), input
            macs = math.prod(dims(inputs[2])) * math.prod(dims(inputs[1])[:3])
            source, weight = dims(inputs[2]), dims(inputs[1])
        elif name == "FULLY_CONNECTED":
            macs = math.prod(dims(outputs[0])) * dims(inputs[1])[-1]
        if name in _TFLITE_CONVS:
            out = dims(outputs[0])
            traffic = (math.prod(source) + math.prod(out)) // max(source[0], 1) + math.prod(weight)
        layers.append(Layer(name, macs, used, traffic))
    return GraphCost(layers, params, counted)
