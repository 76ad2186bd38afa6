"""Quantisation-aware fine-tuning for int8 TFLite: the weights learn under the rounding they will get.

While fine-tuning, every ``Conv2d`` / ``ConvTranspose2d`` / ``SubpixelConvTranspose2d`` is
fake-quantised with torch's own ``fake_quantize_per_*_affine`` ops, whose gradient is the
straight-through estimator (1 inside the clamping range, 0 outside):

* **weights**: per output channel, symmetric, integers in [-127, 127], scale ``max|w| / 127``
  (the scheme of ai-edge-quantizer's ``static_wi8_ai8`` for conv weights);
* **outputs**: per tensor, affine, integers in [-128, 127], scale ``(max - min) / 255`` over a
  running min / max (the first batch's, then an exponential average with weight
  ``MOMENTUM`` for each new batch, as torch's moving-average observer does), frozen in eval mode.

TFLite quantises a conv's output after a fused ReLU and also quantises adds, pixel shuffles and
the model's input; the hooks see a conv's output before any activation, so the simulated noise is
a little coarser than the real one where a ReLU follows. After fine-tuning, the fake quantisation
is removed and the weights are the plain fp32 values learnt; calibration then runs on them exactly
as for post-training quantisation (:mod:`bench.optimize.quantize`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from bench.models.subpixel import SubpixelConvTranspose2d
from bench.optimize.finetune import TrainingSide

MOMENTUM = 0.01


class FakeQuantWeight(nn.Module):
    """Per-output-channel symmetric int8 fake quantisation of a conv weight (axis 0; 1 for transposed)."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        dims = [d for d in range(w.dim()) if d != self.axis]
        scale = (w.detach().abs().amax(dim=dims) / 127.0).clamp_min(1e-12).float()
        zero = torch.zeros_like(scale, dtype=torch.int32)
        return torch.fake_quantize_per_channel_affine(w, scale, zero, self.axis, -127, 127)


class FakeQuantOutput:
    """A forward hook: per-tensor affine int8 fake quantisation of a layer's output over a running range."""

    def __init__(self) -> None:
        self.low: torch.Tensor | None = None
        self.high: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs: Any, y: torch.Tensor) -> torch.Tensor:
        low, high = y.detach().amin().float(), y.detach().amax().float()
        if self.low is not None and self.high is not None:
            if module.training:
                low = self.low + MOMENTUM * (low - self.low)
                high = self.high + MOMENTUM * (high - self.high)
            else:
                low, high = self.low, self.high
        self.low, self.high = low, high
        low, high = torch.clamp(low, max=0.0), torch.clamp(high, min=0.0)  # zero stays representable
        scale = float(((high - low) / 255.0).clamp_min(1e-8))
        zero = int(torch.clamp(torch.round(-128 - low / scale), -128, 127))
        return torch.fake_quantize_per_tensor_affine(y, scale, zero, -128, 127)


def _convs(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | SubpixelConvTranspose2d)]


def attach(model: nn.Module) -> list[Any]:
    """Fake-quantise every conv of ``model`` in place; returns the hook handles (for :func:`detach`)."""
    handles = []
    for conv in _convs(model):
        axis = 1 if isinstance(conv, nn.ConvTranspose2d | SubpixelConvTranspose2d) else 0  # C_in x C_out x k x k
        parametrize.register_parametrization(conv, "weight", FakeQuantWeight(axis))
        handles.append(conv.register_forward_hook(FakeQuantOutput()))
    return handles


def detach(model: nn.Module, handles: list[Any]) -> None:
    """Remove the fake quantisation; the weights keep their learnt fp32 values (not rounded)."""
    for handle in handles:
        handle.remove()
    for conv in _convs(model):
        if parametrize.is_parametrized(conv, "weight"):
            parametrize.remove_parametrizations(conv, "weight", leave_parametrized=False)


def quantization_aware_finetune(model: nn.Module, side: TrainingSide, steps: int, lr: float) -> dict[str, Any]:
    """Fine-tune ``model`` in place for ``steps`` under fake quantisation; the held-out PSNR (dB) with the
    fake quantisation before and after, and without it after, in the returned record."""
    handles = attach(model)
    try:
        side.finetune(model, min(steps, 20), 0.0)  # lr 0: settles the output ranges before the first score
        before = side.score(model)
        loss = side.finetune(model, steps, lr)
        after = side.score(model)
    finally:
        detach(model, handles)
    model.cpu().eval()
    return {"steps": steps, "lr": lr, "mean_loss": loss, "simulated_int8_psnr_before": before,
            "simulated_int8_psnr_after": after, "fp32_psnr_after": side.score(model)}  # fmt: skip
