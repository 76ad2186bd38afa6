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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BudgetExceeded
from bench.limits import GIB, Limits
from bench.runtime.graph_cost import GraphCost, onnx_graph_cost, tflite_graph_cost


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
    return _cost(onnx_graph_cost(path, shape))


def tflite_cost(path: Path) -> Cost:
    """Cost of the TFLite file at ``path`` at its declared shapes, read before any tensor is allocated
    (:func:`bench.runtime.graph_cost.tflite_graph_cost`)."""
    return _cost(tflite_graph_cost(path))


def _cost(graph: GraphCost) -> Cost:
    peak = graph.peak
    return Cost(graph.macs, peak.bytes if peak else 0, peak.op if peak else "none", graph.macs_complete)


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


def guard_for(name: str, model: Any, ghost: Any, limits: Limits, io: Any = None) -> Guard:
    """The guard of a loaded model: ``ghost`` (its meta-device twin, or None) for a module, the file for a
    model file (ONNX by shape inference, TFLite by declared shapes, checked once here). Calls are given as
    the task's NCHW RGB shapes; ``io`` (the submission's contract) maps them to the file's own."""
    if ghost is not None:
        return Guard(name, lambda shape: torch_cost(ghost, shape), limits)
    if isinstance(model, Path) and model.suffix.lower() == ".onnx":
        channels = 3 if io is None else io.channels
        nhwc = io is not None and io.layout == "NHWC"

        def own(shape: tuple[int, ...]) -> tuple[int, ...]:
            n, _, h, w = shape
            return (n, h, w, channels) if nhwc else (n, channels, h, w)

        return Guard(name, lambda shape: onnx_cost(model, own(shape)), limits)
    if isinstance(model, Path) and model.suffix.lower() == ".tflite":
        Guard(name, lambda _shape: tflite_cost(model), limits).check(())  # its declared shapes, whatever the call
    return Guard(name, None, limits)
