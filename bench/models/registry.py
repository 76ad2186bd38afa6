"""The model registry: architecture name -> factory, plus the task facts a factory may take."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from bench.registry import Registry

Factory = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture. ``task_args`` are filled from the task (e.g. ``scale``) unless given."""

    name: str
    factory: Factory
    task_args: tuple[str, ...]
    summary: str


MODELS = Registry[ModelSpec]("architecture")


def register_model(name: str, task_args: tuple[str, ...] = ()) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory`` under ``name``; the first docstring line is its summary."""

    def wrap(factory: Factory) -> Factory:
        doc = inspect.getdoc(factory)
        MODELS.add(name, ModelSpec(name, factory, task_args, doc.splitlines()[0] if doc else ""))
        return factory

    return wrap


def build_model(name: str, args: dict[str, Any], task_values: dict[str, Any]) -> nn.Module:
    """Instantiate architecture ``name`` with ``args``; missing ``task_args`` come from ``task_values``."""
    spec = MODELS[name]  # UnknownName lists the registered architectures
    merged = dict(args)
    for key in spec.task_args:
        if key not in merged:
            if task_values.get(key) is None:
                raise ValueError(f"architecture {name!r} needs {key!r}, which neither the manifest nor the task gives")
            merged[key] = task_values[key]
    try:
        return spec.factory(**merged)
    except TypeError as exc:
        raise ValueError(f"bad arguments for architecture {name!r}: {exc}") from exc
