"""Devices: named measurement profiles (a backend, its settings, where it runs).

Built in: ``cpu-torch``, ``cpu-torch-cl`` (channels-last), ``cpu-onnxruntime``, ``cpu-tflite``
(XNNPACK), ``cpu-tflite-ref`` (no delegate: the reference kernels), ``cuda``, and
``android:<serial>[/cpu|gpu|nnapi]`` (TFLite ``benchmark_model`` on a phone over adb).
``bench devices`` lists them with whether this machine can measure on each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bench.registry import Registry, UnknownName
from bench.runtime.backends import BACKENDS, Backend, BackendUnavailable, RunSettings
from bench.runtime.errors import Precision


def default_threads() -> int:
    """Threads for CPU profiles: the cores this process may use, at most 4."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass(frozen=True)
class Device:
    id: str
    backend: str
    description: str
    settings: RunSettings = field(default_factory=RunSettings)

    def with_threads(self, threads: int | None) -> Device:
        return self if threads is None else replace(self, settings=replace(self.settings, threads=threads))

    def with_calibration(self, images: list[np.ndarray]) -> Device:
        """This profile with representative NCHW images for int8 calibration and the quality check."""
        options = self.settings.options | {"representative": images}
        return replace(self, settings=replace(self.settings, options=options))

    def with_quantization(self, ranges: dict[str, Any]) -> Device:
        """This int8 profile with stored activation ranges (a quantised submission's) instead of calibrating."""
        if self.settings.precision != "int8":
            raise ValueError(f"device {self.id!r} is {self.settings.precision}; int8 ranges need an int8 profile")
        return replace(self, settings=replace(self.settings, options=self.settings.options | {"ranges": ranges}))

    def with_options(self, **options: Any) -> Device:
        """This profile with backend options added (e.g. a model file's ``layout``)."""
        return replace(self, settings=replace(self.settings, options=self.settings.options | options))

    def available(self) -> tuple[bool, str]:
        if self.backend not in BACKENDS:
            return False, f"backend {self.backend!r} is not installed in this build"
        return BACKENDS[self.backend].available()

    def open(self) -> Backend:
        """The backend instance for this profile (raises :class:`BackendUnavailable` with the reason)."""
        ok, detail = self.available()
        if not ok:
            raise BackendUnavailable(f"device {self.id!r} cannot measure on this machine: {detail}")
        return BACKENDS[self.backend](self.settings)


DEVICES = Registry[Device]("device")


def _add(device_id: str, backend: str, description: str, precision: Precision = "fp32", **options: Any) -> None:
    threads = int(options.pop("threads", default_threads()))
    settings = RunSettings(threads=threads, precision=precision, options=options)
    DEVICES.add(device_id, Device(device_id, backend, description, settings))


_add("cpu-torch", "torch", "eager PyTorch on this machine's CPU, fp32")
_add("cpu-torch-cl", "torch", "eager PyTorch on the CPU, channels-last memory format", channels_last=True)
_add("cpu-onnxruntime", "onnxruntime", "ONNX Runtime CPU execution provider, fp32")
_add("cpu-tflite", "tflite", "TFLite (ai-edge-litert) with the XNNPACK delegate on the CPU", xnnpack=True)
_add("cpu-tflite-ref", "tflite", "TFLite on the CPU without a delegate (reference kernels)", xnnpack=False)
_add("cpu-tflite-fp16", "tflite", "TFLite + XNNPACK, fp16 weights (post-training)", "fp16", xnnpack=True)
_add(
    "cpu-tflite-int8", "tflite", "TFLite + XNNPACK, full-integer int8 (post-training, calibrated)", "int8", xnnpack=True
)
_add(
    "cpu-tflite-int8-u8io",
    "tflite",
    "TFLite + XNNPACK, int8 with uint8 input and output (the Mobile AI rule)",
    "int8",
    xnnpack=True,
    uint8_io=True,
)
_add("cuda", "cuda", "PyTorch on an NVIDIA GPU, CUDA events, input already on the GPU", threads=1)
_add(
    "cuda-ntire-esr",
    "cuda",
    "CUDA with the NTIRE efficient-SR timing script (5 x 100 runs)",
    threads=1,
    protocol="ntire-esr",
)

ANDROID_DELEGATES = ("cpu", "gpu", "nnapi")


def android_device(device_id: str) -> Device:
    """``android:<serial>[/cpu|gpu|nnapi]`` -> a profile for that phone (delegate default gpu)."""
    spec = device_id.removeprefix("android:")
    serial, _, delegate = spec.partition("/")
    delegate = delegate or "gpu"
    if not serial or delegate not in ANDROID_DELEGATES:
        raise UnknownName(f"bad android device {device_id!r}: use android:<adb serial>[/{'|'.join(ANDROID_DELEGATES)}]")
    options = {"serial": serial, "delegate": delegate}
    return Device(
        device_id, "android", f"TFLite benchmark_model on {serial} ({delegate})", RunSettings(4, "fp32", options)
    )


def get_device(device_id: str, threads: int | None = None) -> Device:
    """The profile ``device_id`` (an ``android:`` id is parsed), with ``threads`` overriding its default."""
    device = android_device(device_id) if device_id.startswith("android:") else DEVICES[device_id]
    return device.with_threads(threads)
