"""The backend interface: load a model (a torch module, converted as needed, or a model file),
run it on NCHW float32 numpy arrays, and time it under the measurement protocol.

Every backend, whatever its native layout (TFLite is NHWC), takes and returns NCHW float32 in
[0, 1] at this interface, so scoring never needs to know which backend ran a model.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from torch import nn

from bench.registry import Registry
from bench.runtime.errors import BackendUnavailable, ConversionError, Precision
from bench.runtime.protocol import LatencySettings, LatencyStats, measure

__all__ = ["BackendUnavailable", "ConversionError", "Precision"]


@dataclass(frozen=True)
class RunSettings:
    """How a backend runs a model: threads, precision, and backend-specific options."""

    threads: int = 1
    precision: Precision = "fp32"
    options: dict[str, Any] = field(default_factory=dict)


class LoadedModel(ABC):
    """A model ready to run on one backend."""

    backend: str
    settings: RunSettings

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """One NCHW float32 batch in, NCHW float32 out (any spatial size the model accepts)."""

    @abstractmethod
    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        """A zero-argument call running one inference on a fixed random NCHW input of ``shape``."""

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        """Latency of one inference at ``shape`` under the protocol (backends timing on a device override)."""
        return measure(self.timer(shape), settings, self.settings.threads)

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Library versions and settings, for the result's provenance."""


class Backend(ABC):
    """A runtime (PyTorch eager, ONNX Runtime, TFLite, CUDA, Android) that loads models."""

    name: ClassVar[str]
    file_suffixes: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[dict[str, str]] = {}  # module that must import -> the distribution that provides it

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """(usable here?, versions or the reason it is not): every module of ``requires`` must import,
        then :meth:`ready` says the rest."""
        for module, distribution in cls.requires.items():
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return False, f"{distribution} is not installed ({exc})"
        return cls.ready()

    @classmethod
    def ready(cls) -> tuple[bool, str]:
        """(usable?, versions) once ``requires`` import; by default the required distributions' versions."""
        return True, "; ".join(f"{d} {distribution_version(d)}" for d in cls.requires.values())

    @abstractmethod
    def load_module(self, module: nn.Module) -> LoadedModel:
        """A PyTorch module, converted for this backend if needed (conversions are error-checked)."""

    def load_file(self, path: Path) -> LoadedModel:
        """A model file in this backend's own format."""
        raise ConversionError(f"backend {self.name!r} does not load model files ({path.name})")


class ConvertingBackend(Backend):
    """A backend whose ``model`` class runs either a PyTorch module (converted on first use) or a model
    file of the backend's own format: ``model(settings, module=...)`` or ``model(settings, path=...)``."""

    model: ClassVar[Callable[..., LoadedModel]]

    def load_module(self, module: nn.Module) -> LoadedModel:
        return self.model(self.settings, module=module.eval())

    def load_file(self, path: Path) -> LoadedModel:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        return self.model(self.settings, path=Path(path))


def distribution_version(name: str) -> str | None:
    """The installed version of the distribution ``name`` (e.g. ``onnx``), or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_layout(label: str, signature: list[Any], layout: str, channels: int) -> None:
    """Refuse a model file whose input is plainly in the other axis order than ``layout`` declares (the channel
    count sits on the other axis), with the fix; an ambiguous signature (e.g. both axes 3) is trusted."""
    if len(signature) != 4:
        raise ConversionError(f"{label} takes a {len(signature)}-dimensional input; bench runs images as 4-D "
                              f"{layout} batches")  # fmt: skip
    at_last, at_first = signature[3] == channels, signature[1] == channels  # a dynamic axis is -1 or a name
    looks = "NHWC" if at_last and not at_first else "NCHW" if at_first and not at_last else None
    if looks is not None and looks != layout:
        raise ConversionError(
            f"{label} takes input {signature} (-1: dynamic), which is {looks} with {channels} channel(s), but the "
            f"submission declares io.layout {layout}; set io.layout: {looks} in submission.yaml"
        )


BACKENDS = Registry[type[Backend]]("backend")
BackendT = TypeVar("BackendT", bound=type[Backend])


def register_backend(
    name: str, files: tuple[str, ...] = (), requires: dict[str, str] | None = None
) -> Callable[[BackendT], BackendT]:
    """Class decorator: register a :class:`Backend` under ``name`` (its ``name``), loading model files with
    the suffixes ``files`` and needing the modules of ``requires`` (module -> distribution)."""

    def wrap(cls: BackendT) -> BackendT:
        cls.name, cls.file_suffixes = name, files
        cls.requires = dict(requires or cls.requires)
        BACKENDS.add(name, cls)
        return cls

    return wrap
