"""Errors and small types shared by backends and conversions (kept outside the backends package
so that conversion code can use them without importing every backend)."""

from __future__ import annotations

from typing import Literal

Precision = Literal["fp32", "fp16", "int8"]


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this machine (library missing, no GPU, no adb, ...); says why."""


class ConversionError(RuntimeError):
    """A model could not be converted for a backend, or the converted model disagrees with its source."""
