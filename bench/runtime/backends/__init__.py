"""Backends, registered by name; importing this package registers all of them."""

from bench.runtime.backends import (  # noqa: F401  (registration)
    android,
    cuda_backend,
    onnx_backend,
    tflite_backend,
    torch_backend,
)
from bench.runtime.backends.base import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    ConversionError,
    LoadedModel,
    RunSettings,
)

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "ConversionError", "LoadedModel", "RunSettings"]
