"""Bounds on a scoring run (s). Kept in a module of its own so the CLI can show the defaults
without importing the scorer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Time limits (s): one image's inference, and the whole quality run. A model over a limit is
    rejected after the call that exceeded it (an in-process call cannot be pre-empted safely)."""

    per_image_s: float = 300.0
    total_s: float = 6 * 3600.0
