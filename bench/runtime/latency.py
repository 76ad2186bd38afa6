"""Measure one model on one device under the protocol: the single path ``score`` and ``latency`` share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from bench.results import LatencyResult
from bench.runtime.backends import LoadedModel
from bench.runtime.bridges import bridge
from bench.runtime.devices import Device
from bench.runtime.io_contract import ContractModel
from bench.runtime.protocol import LatencySettings

if TYPE_CHECKING:
    from bench.submission import IOContract


def load_on(device: Device, model: nn.Module | Path, io: IOContract | None = None) -> LoadedModel:
    """``model`` (a module, or a model file or folder) loaded on ``device``'s backend: a file of another format
    through its converter (:mod:`bench.runtime.bridges`), behind the submission's ``io`` contract
    (:mod:`bench.runtime.io_contract`, its layout resolved: ``Manifest.contract``; the file's layout goes to the
    backend, colour and range around it)."""
    if io is not None and isinstance(model, Path):
        device = device.with_options(layout=io.layout, channels=io.channels)
    backend = device.open()
    if isinstance(model, Path):
        if model.is_file() and model.suffix.lower() in backend.file_suffixes:
            loaded = backend.load_file(model)
        else:
            loaded = bridge(backend, model, str(backend.settings.options.get("layout", "NCHW")))
    else:
        loaded = backend.load_module(model)
    if io is not None and (io.colour != "RGB" or io.range[1] != 1.0):
        return ContractModel(loaded, io.colour, io.range[1])
    return loaded


def measure_on(
    device: Device,
    model: nn.Module | Path,
    shape: tuple[int, ...],
    settings: LatencySettings,
    io: IOContract | None = None,
) -> tuple[LatencyResult, dict[str, Any]]:
    """Measured latency of ``model`` at NCHW ``shape`` on ``device``, and the backend's description."""
    loaded = load_on(device, model, io)
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
