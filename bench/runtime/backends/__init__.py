"""Backends, registered by name; importing this package registers all of them."""

from bench.runtime.backends import cuda_backend, torch_backend  # noqa: F401  (registration)
from bench.runtime.backends.base import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    ConversionError,
    LoadedModel,
    RunSettings,
)

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "ConversionError", "LoadedModel", "RunSettings"]
