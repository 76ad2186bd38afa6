"""Errors and small types shared by backends and conversions (kept outside the backends package
so that conversion code can use them without importing every backend)."""

from __future__ import annotations

from typing import Literal

from bench.errors import BackendUnavailable, ConversionError  # noqa: F401 (re-exported)

Precision = Literal["fp32", "fp16", "int8"]
