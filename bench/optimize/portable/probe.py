"""The per-op portability probe: does each op run on each device's accelerator, how fast, how exactly?

Every op of the U-Net search space (:data:`PROBE_OPS`) is built alone as a tiny model (with a 1x1
conv in front where the op needs two tensors or a fused activation), loaded on each device
through the runtime layer, run on a seeded input and timed. Its status on a device:

* ``accelerated``: a TFLite model whose every op the XNNPACK delegate took;
* ``fallback``: some of its TFLite ops stayed outside the delegate (they run on TFLite's own,
  slower CPU kernels; ``fallback_ops`` names them), as ops an accelerator lacks fall back on a phone;
* ``runs``: a backend with no accelerator to fall back from (ONNX Runtime's CPU provider, eager
  PyTorch, TFLite without a delegate) ran it;
* ``inexact``: it ran, but its output differs from eager PyTorch by more than ``tolerance``;
* ``fails``: it does not convert or does not run (``detail`` says why).

An op is portable on a set of devices when it is ``accelerated`` or ``runs`` on every one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.models.portable_arch import ACTS, Resize2x
from bench.runtime.devices import Device
from bench.runtime.latency import load_on
from bench.runtime.protocol import QUICK, LatencySettings

PORTABLE_STATUSES = ("accelerated", "runs")


class _AfterConv(nn.Module):
    """``op(conv1x1(x))``, or ``op(conv1x1(x), x)`` for two-input ops: an op that needs a producer."""

    def __init__(self, channels: int, op: Callable[..., torch.Tensor], two_inputs: bool = False) -> None:
        super().__init__()
        self.conv, self.op, self.two_inputs = nn.Conv2d(channels, channels, 1), op, two_inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.op(y, x) if self.two_inputs else self.op(y)


def _act(name: str) -> Callable[[int], nn.Module]:
    return lambda c: nn.Sequential(nn.Conv2d(c, c, 3, padding=1), ACTS[name](c))


PROBE_OPS: dict[str, Callable[[int], nn.Module]] = {
    "conv3x3": lambda c: nn.Conv2d(c, c, 3, padding=1),
    "conv1x1": lambda c: nn.Conv2d(c, c, 1),
    "conv3x3-s2": lambda c: nn.Conv2d(c, c, 3, stride=2, padding=1),
    "maxpool": lambda c: nn.MaxPool2d(2),
    "avgpool": lambda c: nn.AvgPool2d(2),
    "space-to-depth": lambda c: nn.PixelUnshuffle(2),
    "depth-to-space": lambda c: nn.PixelShuffle(2),
    "deconv": lambda c: nn.ConvTranspose2d(c, c, 2, stride=2),
    "resize-bilinear": lambda c: Resize2x(c, c, "bilinear"),
    "resize-nearest": lambda c: Resize2x(c, c, "nearest"),
    "add": lambda c: _AfterConv(c, torch.add, two_inputs=True),
    "concat": lambda c: _AfterConv(c, lambda a, b: torch.cat([a, b], dim=1), two_inputs=True),
    **{f"act-{name}": _act(name) for name in ACTS},
}

# The ops each U-Net choice brings (every U-Net also has 3x3 and 1x1 convs and the global residual add).
CHOICE_OPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("down", "conv"): ("conv3x3-s2",),
    ("down", "maxpool"): ("maxpool",),
    ("down", "avgpool"): ("avgpool",),
    ("down", "space-to-depth"): ("space-to-depth",),
    ("up", "pixelshuffle"): ("depth-to-space",),
    ("up", "deconv"): ("deconv",),
    ("up", "bilinear"): ("resize-bilinear",),
    ("up", "nearest"): ("resize-nearest",),
    ("skip", "add"): ("add",),
    ("skip", "concat"): ("concat",),
    **{("act", name): (f"act-{name}",) for name in ACTS},
}
ALWAYS = ("conv3x3", "conv1x1", "add")


@dataclass
class OpProbe:
    op: str
    device: str
    status: str
    latency_ms: float | None = None
    max_error: float | None = None
    fallback_ops: list[str] = field(default_factory=list)
    detail: str = ""


def probe_op(op: str, device: Device, shape: tuple[int, ...], tolerance: float = 1e-4,
             settings: LatencySettings = QUICK) -> OpProbe:  # fmt: skip
    """Run op ``op`` alone on ``device`` at NCHW ``shape``: status, median latency (ms), max error vs eager."""
    torch.manual_seed(0)
    module = PROBE_OPS[op](shape[1]).eval()
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    try:
        loaded = load_on(device, module)
        got = _output(loaded, device, module, x)
        stats = loaded.measure(shape, settings)
        info = loaded.describe()
    except Exception as exc:  # any conversion or runtime failure is the probe's finding
        return OpProbe(op, device.id, "fails", detail=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    error = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
    fallback = list(info.get("fallback_ops", []))
    if not np.isfinite(error) or error > tolerance:
        status = "inexact"
    elif fallback:
        status = "fallback"
    else:
        status = "accelerated" if info.get("delegate_applied") else "runs"
    return OpProbe(op, device.id, status, round(stats.median_ms, 4), error, fallback)


def _output(loaded: Any, device: Device, module: nn.Module, x: np.ndarray) -> np.ndarray:
    """The op's output on ``device``; for a phone, which only times (benchmark_model discards outputs), the
    same conversion at the device's precision run by this machine's TFLite reference kernels."""
    from bench.runtime.errors import BackendUnavailable

    try:
        return np.asarray(loaded.run(x))
    except BackendUnavailable:
        if device.backend != "android":
            raise
    from bench.runtime.backends.base import RunSettings
    from bench.runtime.backends.tflite_backend import TFLiteBackend

    host = TFLiteBackend(RunSettings(1, device.settings.precision, {"xnnpack": False})).load_module(module)
    return np.asarray(host.run(x))


def probe_ops(devices: Sequence[Device], shape: tuple[int, ...], ops: Sequence[str] | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> list[OpProbe]:  # fmt: skip
    """Every op in ``ops`` (default all) on every device."""
    names = list(ops or PROBE_OPS)
    results: list[OpProbe] = []
    total = len(names) * len(devices)
    for device in devices:
        for op in names:
            if progress:
                progress(f"probe {op} on {device.id}", len(results) + 1, total)
            results.append(probe_op(op, device, shape))
    return results


def portable_ops(probes: Sequence[OpProbe]) -> set[str]:
    """Ops that are ``accelerated`` or ``runs`` on every probed device."""
    ops = {p.op for p in probes}
    return {op for op in ops if all(p.status in PORTABLE_STATUSES for p in probes if p.op == op)}


def probe_rows(probes: Sequence[OpProbe]) -> list[dict[str, Any]]:
    return [asdict(p) for p in probes]
