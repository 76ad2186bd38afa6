"""The model registry: architecture name -> factory, plus the task facts a factory may take and the
tiny configuration its tests build (as timm keeps each model's default config beside it).

An architecture is one decorated factory in a ``*_arch.py`` file of :mod:`bench.models`; the
package imports every such file when it is first imported (as BasicSR scans its ``archs``), so a
new file is registered, listed and converted by the parametrised test without a line elsewhere.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from bench.registry import Registry

Factory = Callable[..., nn.Module]


Shape = tuple[int, int, int, int]
DEFAULT_TEST_SHAPE: Shape = (1, 3, 10, 12)


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture. ``task_args`` are filled from the task (e.g. ``scale``) unless given.

    ``test_args`` and ``test_shape`` (NCHW) are a tiny configuration and input that the test suite
    builds and converts (to TFLite, within 1e-4); ``test_variants`` are further named argument sets
    tested the same way (e.g. another upsampler).
    """

    name: str
    factory: Factory
    task_args: tuple[str, ...]
    summary: str
    test_args: Mapping[str, Any] = field(default_factory=dict)
    test_shape: Shape = DEFAULT_TEST_SHAPE
    test_variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


MODELS = Registry[ModelSpec]("architecture")


def register_model(
    name: str,
    task_args: tuple[str, ...] = (),
    test_args: Mapping[str, Any] | None = None,
    test_shape: Shape = DEFAULT_TEST_SHAPE,
    test_variants: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory`` under ``name`` (see :class:`ModelSpec`); the first docstring line
    is its summary. ``test_args`` default to ``{"scale": 2}`` for an architecture that takes the scale."""

    def wrap(factory: Factory) -> Factory:
        doc = inspect.getdoc(factory)
        tiny = dict(test_args) if test_args is not None else ({"scale": 2} if "scale" in task_args else {})
        spec = ModelSpec(name, factory, task_args, doc.splitlines()[0] if doc else "", tiny, test_shape,
                         dict(test_variants or {}))  # fmt: skip
        MODELS.add(name, spec)
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
