"""Measure one model on one device under the protocol: the single path ``score`` and ``latency`` share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from bench.results import LatencyResult
from bench.runtime.backends import ConversionError, LoadedModel
from bench.runtime.devices import Device
from bench.runtime.protocol import LatencySettings


def load_on(device: Device, model: nn.Module | Path) -> LoadedModel:
    """``model`` (a module, or a model file in the backend's format) loaded on ``device``'s backend."""
    backend = device.open()
    if isinstance(model, Path):
        if backend.file_suffixes and model.suffix.lower() not in backend.file_suffixes:
            raise ConversionError(
                f"device {device.id!r} ({device.backend}) loads {', '.join(backend.file_suffixes)} files, "
                f"not {model.name}"
            )
        return backend.load_file(model)
    return backend.load_module(model)


def measure_on(
    device: Device, model: nn.Module | Path, shape: tuple[int, ...], settings: LatencySettings
) -> tuple[LatencyResult, dict[str, Any]]:
    """Measured latency of ``model`` at NCHW ``shape`` on ``device``, and the backend's description."""
    loaded = load_on(device, model)
    stats = loaded.measure(shape, settings)
    result = LatencyResult(
        device=device.id,
        backend=device.backend,
        precision=device.settings.precision,
        threads=device.settings.threads,
        input_shape=shape,
        **stats.model_dump(exclude={"block_medians_ms"}),
    )
    return result, loaded.describe() | {"block_medians_ms": stats.block_medians_ms}
