"""Model complexity: MACs, parameters and conv-layer memory traffic.

* MACs: ``torch.utils.flop_counter.FlopCounterMode`` counts the FLOPs of convolutions, matrix
  products and their relatives exactly; MACs = FLOPs / 2. Element-wise work (activations,
  interpolation by gathering) is not counted, as in every SR/efficiency table.
* Params: the number of elements of all parameters.
* Conv memory traffic (Wang et al. 2019, ``docs/protocols.md``), per conv layer, in bytes at
  ``bytes_per_value`` (4 for fp32)::

      traffic = bytes * (H W C_in + H' W' C_out + k_h k_w C_in C_out / groups)

  i.e. read the input, write the output, read the weights once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.results import Complexity


def count_complexity(model: nn.Module, input_shape: tuple[int, ...], bytes_per_value: int = 4) -> Complexity:
    """MACs, parameters and conv traffic of ``model`` for one input of ``input_shape`` (NCHW). Every
    convolution the forward pass dispatches counts, modules and functional calls alike (a colour matrix or
    a bicubic kernel applied with ``F.conv2d``), as a graph file holds them."""
    from torch.utils._python_dispatch import TorchDispatchMode

    traffic = 0
    aten = torch.ops.aten
    convolutions = {aten.conv1d, aten.conv2d, aten.conv3d, aten.convolution, aten._convolution,
                    aten.conv_transpose1d, aten.conv_transpose2d, aten.conv_transpose3d}  # fmt: skip

    class ConvTraffic(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            nonlocal traffic
            out = func(*args, **(kwargs or {}))
            if func.overloadpacket in convolutions:
                x, weight = args[0], args[1]
                traffic += bytes_per_value * (x[0].numel() + out[0].numel() + weight.numel())
            return out

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter, ConvTraffic():
        model.eval()(torch.zeros(input_shape))
    params = sum(p.numel() for p in model.parameters())
    return Complexity(
        macs=int(counter.get_total_flops() // 2),
        params=int(params),
        conv_traffic_bytes=int(traffic),
        input_shape=tuple(input_shape),
    )


def file_complexity(path: Path, input_shape: tuple[int, ...], layout: str = "NCHW") -> Complexity:
    """MACs, parameters and conv traffic of an ONNX or TFLite file at NCHW ``input_shape``, counted from its
    graph (:mod:`bench.runtime.graph_cost`: the same formulas as :func:`count_complexity`); ``layout`` is the
    file's own axis order. ``None`` for a format whose graph is not read (and never an estimate)."""
    from bench.runtime.graph_cost import onnx_graph_cost, tflite_graph_cost

    n, c, h, w = input_shape
    own = (n, h, w, c) if layout == "NHWC" else (n, c, h, w)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        graph = onnx_graph_cost(path, own)
    elif suffix == ".tflite":
        graph = tflite_graph_cost(path, own)
    else:
        return Complexity(macs=None, params=None, conv_traffic_bytes=None, input_shape=tuple(input_shape))
    counted = graph.input_shape
    if len(counted) == 4 and layout == "NHWC":
        counted = (counted[0], counted[3], counted[1], counted[2])
    return Complexity(
        macs=graph.macs if graph.macs_complete else None,
        params=graph.params,
        conv_traffic_bytes=graph.conv_traffic_bytes,
        input_shape=tuple(counted or input_shape),  # a fixed-shape file is counted at its own input
    )
