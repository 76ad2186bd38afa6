"""Devices: named measurement profiles (backend + settings + where it runs).

Only ``cpu-torch`` exists so far; the ONNX Runtime, TFLite, CUDA and Android profiles are added
by the runtime issue. ``available_devices`` says what this machine can measure on.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from bench.runtime.backends import Backend, TorchBackend


@dataclass(frozen=True)
class Device:
    id: str
    backend: str
    description: str
    threads: int
    load: Callable[[nn.Module, int], Backend]

    def available(self) -> tuple[bool, str]:
        return True, platform.processor() or platform.machine()


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


DEVICES: dict[str, Device] = {
    "cpu-torch": Device(
        id="cpu-torch",
        backend="torch",
        description="eager PyTorch on this machine's CPU (fp32)",
        threads=_default_threads(),
        load=lambda model, threads: TorchBackend(model, threads),
    ),
}


class UnknownDevice(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_device(device_id: str) -> Device:
    if device_id not in DEVICES:
        raise UnknownDevice(f"unknown device {device_id!r}; known: {', '.join(sorted(DEVICES))}")
    return DEVICES[device_id]
