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

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.results import Complexity


def count_complexity(model: nn.Module, input_shape: tuple[int, ...], bytes_per_value: int = 4) -> Complexity:
    """MACs, parameters and conv traffic of ``model`` for one input of ``input_shape`` (NCHW)."""
    traffic = 0

    def conv_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal traffic
        assert isinstance(module, nn.Conv2d | nn.ConvTranspose2d)
        x = inputs[0]
        weights = module.weight.numel()
        traffic += bytes_per_value * (x[0].numel() + output[0].numel() + weights)

    handles = [
        m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    counter = FlopCounterMode(display=False)
    try:
        with torch.inference_mode(), counter:
            model.eval()(torch.zeros(input_shape))
    finally:
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in model.parameters())
    return Complexity(
        macs=int(counter.get_total_flops() // 2),
        params=int(params),
        conv_traffic_bytes=int(traffic),
        input_shape=tuple(input_shape),
    )


def file_complexity(path: Path, input_shape: tuple[int, ...]) -> Complexity:
    """What a model file tells exactly: for ONNX, the elements of all initializers (weights and
    constants alike: a file cannot tell them apart); MACs and traffic are only counted for
    PyTorch-defined models (``None`` here, never an estimate)."""
    params = None
    if path.suffix.lower() == ".onnx":
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        params = sum(int(np.prod(init.dims)) for init in graph.initializer)
    return Complexity(macs=None, params=params, conv_traffic_bytes=None, input_shape=tuple(input_shape))
