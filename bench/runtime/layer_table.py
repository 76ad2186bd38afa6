"""Per-layer latency tables: measure each layer configuration once on a device, predict whole models.

A model is decomposed into *units* by running it once with hooks on its leaf modules: a
convolution together with the activation that directly follows it (backends fuse the two), a
pixel shuffle, a transposed convolution, a pooling or interpolation layer, each with the exact
input shape it sees. A unit's configuration (its type, hyper-parameters and input shape) is the
table key. Each missing configuration is measured alone on the device, as a one-unit model.
Such a model costs ``t_unit + t_call`` (``t_call``: one empty inference, measured as the
``overhead`` entry), so the prediction is::

    predicted = t_call + sum over units (t_measured(unit) - t_call)

Predicted numbers are predictions: they are never stored or shown as measured latencies.
Units this decomposition does not know (e.g. functional additions in residual blocks) are
reported as ``unmodelled`` so a user can see what the prediction leaves out. A module may declare
itself one unit, measured whole with everything its forward does (a residual cell with its
addition): it sets ``latency_unit = True`` and gives ``unit_key()``; if it takes more than one
input it also gives ``latency_probe()``, a one-input module doing the same work. A module whose
forward only passes tensors between its children says so with ``latency_routing_only = True``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from bench.runtime.devices import Device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import LatencySettings

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.GELU, nn.SiLU)
LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.PixelShuffle, nn.PixelUnshuffle, nn.Upsample, nn.MaxPool2d, nn.AvgPool2d)
UNIT_TYPES = (*LAYERS, *ACTIVATIONS)
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
OVERHEAD = "overhead"


@dataclass(frozen=True)
class Unit:
    """One layer unit: a module (possibly conv + activation) and the NCHW shape it receives."""

    key: str
    input_shape: tuple[int, ...]
    module: nn.Module = field(compare=False, repr=False)


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        extra = f",op{module.output_padding}" if isinstance(module, nn.ConvTranspose2d) else ""
        return (
            f"{type(module).__name__}({module.in_channels},{module.out_channels},k{module.kernel_size},"
            f"s{module.stride},p{module.padding},d{module.dilation},g{module.groups},b{module.bias is not None}{extra})"
        )
    if isinstance(module, nn.PixelShuffle):
        return f"PixelShuffle({module.upscale_factor})"
    if isinstance(module, nn.PixelUnshuffle):
        return f"PixelUnshuffle({module.downscale_factor})"
    if isinstance(module, nn.Upsample):
        return f"Upsample({module.scale_factor},{module.mode})"
    if isinstance(module, nn.PReLU):
        return f"PReLU({module.num_parameters})"
    return type(module).__name__ + (f"({module.kernel_size},{module.stride})" if hasattr(module, "kernel_size") else "")


def decompose(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[list[Unit], list[str]]:
    """The units of ``model`` for one NCHW input of ``input_shape``, and the leaf modules left unmodelled."""
    calls: list[tuple[nn.Module, tuple[int, ...]]] = []
    unmodelled: list[str] = []
    hooks = []
    inside: list[str] = []  # names of declared units: their submodules are theirs
    for name, module in model.named_modules():
        if any(name.startswith(f"{outer}.") for outer in inside):
            continue
        if getattr(module, "latency_unit", False):
            inside.append(name)
            hooks.append(module.register_forward_hook(lambda m, args, _out: calls.append((m, tuple(args[0].shape)))))
            continue
        if next(module.children(), None) is not None:
            if not isinstance(module, CONTAINERS) and not getattr(module, "latency_routing_only", False):
                unmodelled.append(f"{type(module).__name__} (operations in its forward)")
            continue
        if isinstance(module, UNIT_TYPES):
            hooks.append(module.register_forward_hook(lambda m, args, _out: calls.append((m, tuple(args[0].shape)))))
        elif not isinstance(module, nn.Identity | nn.Dropout):
            unmodelled.append(type(module).__name__)
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    units: list[Unit] = []
    i = 0
    while i < len(calls):
        module, shape = calls[i]
        if getattr(module, "latency_unit", False):
            make_probe = getattr(module, "latency_probe", None)
            probe: nn.Module = make_probe() if make_probe is not None else module
            key = getattr(module, "unit_key")()  # noqa: B009  (declared by the unit, not by nn.Module)
            units.append(Unit(f"{key}@{'x'.join(map(str, shape))}", shape, probe))
            i += 1
            continue
        key = _describe(module)
        fused: nn.Module = module
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d) and i + 1 < len(calls):
            follower, _ = calls[i + 1]
            if isinstance(follower, ACTIVATIONS):
                key, fused = f"{key}+{_describe(follower)}", nn.Sequential(module, follower)
                i += 1
        units.append(Unit(f"{key}@{'x'.join(map(str, shape))}", shape, fused))
        i += 1
    return units, sorted(set(unmodelled))


def default_table_path(device_id: str) -> Path:
    """``$XDG_CACHE_HOME/bench/latency-tables/<device>.json`` (``~/.cache`` by default)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bench" / "latency-tables" / f"{device_id.replace(':', '_').replace('/', '_')}.json"


class _Empty(nn.Module):
    """The cheapest model a backend still runs: the input times one (measures the per-call cost)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0


class LatencyTable(BaseModel):
    """Measured latency (ms) of each unit configuration on one device."""

    model_config = ConfigDict(extra="forbid")

    device: str
    backend: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    entries: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LatencyTable:
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(), indent=1, sort_keys=True))

    def missing(self, units: Iterable[Unit]) -> list[Unit]:
        seen: dict[str, Unit] = {}
        for unit in units:
            if unit.key not in self.entries and unit.key not in seen:
                seen[unit.key] = unit
        return list(seen.values())


@dataclass(frozen=True)
class Prediction:
    total_ms: float
    per_unit: list[tuple[str, float]]
    unmodelled: list[str]


def fill(
    table: LatencyTable,
    units: Iterable[Unit],
    device: Device,
    settings: LatencySettings,
    progress: Callable[[str, int, int], None] | None = None,
) -> LatencyTable:
    """Measure every unit configuration (and the per-call overhead) the table does not have yet."""
    todo = table.missing(units)
    if OVERHEAD not in table.entries and todo:
        shape = todo[0].input_shape
        table.entries[OVERHEAD], table.backend = _measure(_Empty(), shape, device, settings)
    for n, unit in enumerate(todo, 1):
        if progress:
            progress(unit.key, n, len(todo))
        table.entries[unit.key], table.backend = _measure(unit.module, unit.input_shape, device, settings)
    table.settings = settings.model_dump()
    return table


def _measure(
    module: nn.Module, shape: tuple[int, ...], device: Device, settings: LatencySettings
) -> tuple[float, dict[str, Any]]:
    result, description = measure_on(device, module, shape, settings)
    return result.median_ms, {k: v for k, v in description.items() if k != "block_medians_ms"}


def predict(table: LatencyTable, units: list[Unit], unmodelled: list[str]) -> Prediction:
    """Predicted latency (ms) from the table; every unit must be in it (see :func:`fill`)."""
    missing = table.missing(units)
    if missing:
        raise KeyError(f"{len(missing)} unit configurations are not in the table, e.g. {missing[0].key}")
    overhead = table.entries.get(OVERHEAD, 0.0)
    per_unit = [(u.key, max(table.entries[u.key] - overhead, 0.0)) for u in units]
    return Prediction(overhead + sum(ms for _, ms in per_unit), per_unit, unmodelled)
