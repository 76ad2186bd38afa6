"""What one call of a submitted model will cost, known before it runs, and refused over a budget.

A stranger's model is costed from its description alone, allocating nothing:

* a **registered architecture** is built on PyTorch's ``meta`` device (shapes, no storage) and run
  there on a meta input of the call's shape; ``FlopCounterMode`` counts its multiply-accumulates
  (MACs = FLOPs / 2, convolutions and matrix products, as :mod:`bench.runtime.complexity` counts them),
  and a dispatch mode records the largest single operation: the bytes of its tensor inputs plus its
  outputs;
* an **ONNX graph** gets the call's input shape and ONNX's own shape inference; every node whose
  tensors have known shapes gives its bytes (inputs + outputs) and, for ``Conv``, ``ConvTranspose``,
  ``MatMul`` and ``Gemm``, its MACs (where a shape depends on data the sum is a lower bound);
* a **TFLite file**'s declared tensor shapes (read before any tensor is allocated) give each
  operator's bytes and the MACs of its convolutions and fully connected layers the same way.

Each operation's bytes are a *lower bound* of the memory the call needs (both ends of one operation
are alive at once), so a refusal is never wrong: a call whose largest operation alone exceeds the
memory limit would fail anyway, later and after wasting minutes. The MACs budget (``Limits.macs``)
bounds the work of one call; both are checked before each image and before the latency shape is
timed. Where a model cannot be costed (a graph whose shapes depend on data, a module that computes
on values) the check says so and the sandbox's hard limits remain the bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BudgetExceeded
from bench.limits import GIB, Limits

_ONNX_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # elem_type -> bytes
_ONNX_MACS_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
Shapes = dict[str, tuple[int, tuple[int, ...]]]  # tensor name -> (bytes, dims)


@dataclass(frozen=True)
class Cost:
    """One call's cost: ``macs`` (None where not countable; a lower bound unless ``macs_complete``) and the
    bytes of its largest single operation (inputs + outputs), with that operation's name."""

    macs: int | None
    peak_bytes: int
    peak_op: str
    macs_complete: bool = True


# -- PyTorch: the meta device ------------------------------------------------------------------------


def torch_cost(ghost: Any, shape: tuple[int, ...]) -> Cost:
    """Cost of ``ghost`` (a module on the meta device) on an input of NCHW ``shape``."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves
    from torch.utils.flop_counter import FlopCounterMode

    class Peak(TorchDispatchMode):
        peak, op = 0, "none"

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            tensors = [t for t in tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
            size = sum(t.numel() * t.element_size() for t in tensors)
            if size > self.peak:
                self.peak, self.op = size, str(func.__name__)
            return out

    counter, peak = FlopCounterMode(display=False), Peak()
    with torch.device("meta"), torch.inference_mode(), counter, peak:  # tensors made inside are meta too
        ghost.eval()(torch.empty(shape))
    return Cost(int(counter.get_total_flops() // 2), int(peak.peak), peak.op)


# -- ONNX: shape inference -----------------------------------------------------------------------------


def onnx_cost(path: Path, shape: tuple[int, ...]) -> Cost:
    """Cost of the ONNX graph at ``path`` with its first input set to ``shape`` (external data is not read)."""
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
    sizes: Shapes = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor = info.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
        if tensor.HasField("shape") and all(d >= 0 for d in dims):
            sizes[info.name] = (_ONNX_BYTES.get(tensor.elem_type, 4) * math.prod(dims), dims)
    weights = {i.name: tuple(i.dims) for i in inferred.graph.initializer}
    macs, complete, peak, op = 0, True, 0, "none"
    for node in inferred.graph.node:
        known = [sizes[n][0] for n in [*node.input, *node.output] if n in sizes]
        if known and sum(known) > peak:
            peak, op = sum(known), f"{node.op_type} {node.name!r}".strip()
        if node.op_type in _ONNX_MACS_OPS:
            count = _node_macs(node, sizes, weights)
            complete = complete and count is not None
            macs += count or 0
    return Cost(macs, peak, op, macs_complete=complete)


def _node_macs(node: Any, sizes: Shapes, weights: dict[str, tuple[int, ...]]) -> int | None:
    """MACs of one Conv / ConvTranspose / MatMul / Gemm node from its shapes (None where a shape is unknown)."""

    def dims(name: str) -> tuple[int, ...] | None:
        return weights.get(name) or (sizes[name][1] if name in sizes else None)

    a, b = dims(node.input[0]), dims(node.input[1])
    out = sizes[node.output[0]][1] if node.output[0] in sizes else None
    if a is None or b is None or out is None:
        return None
    if node.op_type == "Conv":  # each output element: C_in / groups x kernel
        return math.prod(out) * math.prod(b[1:])
    if node.op_type == "ConvTranspose":  # each input element scatters into C_out / groups x kernel
        return math.prod(a) * math.prod(b[1:])
    return math.prod(out) * a[-1]  # MatMul / Gemm: each output element is a dot product of length K


# -- TFLite: declared shapes ---------------------------------------------------------------------------


def tflite_cost(path: Path) -> Cost:
    """Cost of the TFLite file at ``path`` at its declared shapes, read before any tensor is allocated: each
    operator's bytes (its input and output tensors) and the MACs of its convolutions and fully connected
    layers (``CONV_2D``: output elements x kernel x C_in; ``DEPTHWISE_CONV_2D``: output elements x kernel;
    ``TRANSPOSE_CONV``: input elements x kernel x C_out; ``FULLY_CONNECTED``: output elements x K)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}

    def dims(index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in tensors[index]["shape"])

    def nbytes(index: int) -> int:
        return math.prod(dims(index)) * int(tensors[index]["dtype"](0).nbytes)

    macs, peak, op = 0, 0, "none"
    for node in interpreter._get_ops_details():  # the interpreter's only view of its graph
        used = [i for i in [*node["inputs"], *node["outputs"]] if i >= 0]
        if sum(nbytes(i) for i in used) > peak:
            peak, op = sum(nbytes(i) for i in used), str(node["op_name"])
        name, inputs, outputs = node["op_name"], node["inputs"], node["outputs"]
        if name == "CONV_2D":
            macs += math.prod(dims(outputs[0])) * math.prod(dims(inputs[1])[1:])
        elif name == "DEPTHWISE_CONV_2D":
            macs += math.prod(dims(outputs[0])) * math.prod(dims(inputs[1])[1:3])
        elif name == "TRANSPOSE_CONV":
            macs += math.prod(dims(inputs[2])) * math.prod(dims(inputs[1])[:3])
        elif name == "FULLY_CONNECTED":
            macs += math.prod(dims(outputs[0])) * dims(inputs[1])[-1]
    return Cost(macs, peak, op)


# -- the guard -----------------------------------------------------------------------------------------


class Guard:
    """Checks each call's shape against ``limits`` before the model runs; costs are cached per shape."""

    def __init__(self, name: str, coster: Callable[[tuple[int, ...]], Cost] | None, limits: Limits) -> None:
        self.name, self.coster, self.limits = name, coster, limits
        self.costs: dict[tuple[int, ...], Cost | None] = {}

    def check(self, shape: tuple[int, ...]) -> Cost | None:
        """Raise :class:`BudgetExceeded` when a call at ``shape`` is over a budget; the cost, None if unknown."""
        if self.coster is None:
            return None
        if shape not in self.costs:
            try:
                self.costs[shape] = self.coster(shape)
            except BudgetExceeded:
                raise
            except Exception:  # not costable without running (data-dependent shapes): the sandbox bounds it
                self.costs[shape] = None
        cost = self.costs[shape]
        at = f"at input {'x'.join(map(str, shape))}" if shape else "at its declared shapes"
        where = f"submission {self.name!r} {at}"
        if cost is not None and cost.peak_bytes > self.limits.memory_bytes:
            raise BudgetExceeded(
                f"{where}: its largest single operation ({cost.peak_op}) needs {cost.peak_bytes / GIB:.3g} GiB for "
                f"its inputs and outputs alone, over the memory limit of {self.limits.memory_bytes / GIB:g} GiB "
                "(--memory-limit); refused before running it"
            )
        if cost is not None and cost.macs is not None and cost.macs > self.limits.macs:
            raise BudgetExceeded(
                f"{where}: one call takes {'' if cost.macs_complete else 'at least '}{cost.macs / 1e12:.3g} T "
                "multiply-accumulates, over the budget of "
                f"{self.limits.macs / 1e12:g} T per call; refused before running it"
            )
        return cost


def guard_for(name: str, model: Any, ghost: Any, limits: Limits) -> Guard:
    """The guard of a loaded model: ``ghost`` (its meta-device twin, or None) for a module, the file for a
    model file (ONNX by shape inference, TFLite by declared shapes, checked once here)."""
    if ghost is not None:
        return Guard(name, lambda shape: torch_cost(ghost, shape), limits)
    if isinstance(model, Path) and model.suffix.lower() == ".onnx":
        return Guard(name, lambda shape: onnx_cost(model, shape), limits)
    if isinstance(model, Path) and model.suffix.lower() == ".tflite":
        Guard(name, lambda _shape: tflite_cost(model), limits).check(())  # its declared shapes, whatever the call
    return Guard(name, None, limits)
