"""Bounds on a scoring run. Kept in a module of its own so the CLI can show the defaults without
importing the scorer.

Every execution of a submitted model (loading, the probe, quality inference, latency, conversion)
runs in a sandboxed child process (:mod:`bench.sandbox`) under these limits: a breach kills the child
and the run fails with the limit named, exit 2, the store as it was.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class Limits:
    """``per_image_s``: longest silence of the model's process, s (one image's inference, one latency
    measurement, one conversion: each reports as it finishes); ``total_s``: the whole run, s;
    ``memory_bytes``: address space of the model's process; ``file_bytes``: largest file it may write;
    ``threads``: threads of the math libraries (OpenMP, MKL, OpenBLAS); ``macs``: multiply-accumulates of
    one call of the model, counted before it runs (:mod:`bench.budgets`; 20 T is about 100 s on two CPU
    cores, far above any efficient restoration model at 4K)."""

    per_image_s: float = 300.0
    total_s: float = 6 * 3600.0
    memory_bytes: int = 16 * GIB
    file_bytes: int = 4 * GIB
    threads: int = 2
    macs: float = 20e12

    def record(self) -> dict[str, Any]:
        """The limits as plain data (the result's provenance records them)."""
        return asdict(self)


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)


def _scaled(text: str, base: int, bytes_: bool, example: str) -> float:
    """``text`` ("16G", "1.5k", "512MiB", "1000") times ``base`` to the power of its unit (k, M, G, T, P)."""
    match = _NUMBER.match(text)
    if not match or (match.group(3) and not bytes_):
        raise ValueError(f"{example}, not {text!r}")
    number, unit, _ = match.groups()
    return float(number) * base ** ("kmgtp".index(unit.lower()) + 1 if unit else 0)


def parse_size(text: str) -> int:
    """``"16G"``, ``"512M"``, ``"1.5GiB"`` or plain bytes as a number of bytes (binary units)."""
    return int(_scaled(text, 1024, True, "a size looks like 16G, 512M or 1000000"))


def size_text(size: float) -> str:
    """A byte count for people: ``16 GiB``, ``512 MiB``, ``1.5 KiB``, ``100 bytes`` (binary units)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size:g} bytes"


def parse_count(text: str) -> float:
    """``"20T"``, ``"500G"`` or a plain number as a count (decimal units: k, M, G, T, P)."""
    return _scaled(text, 1000, False, "a count looks like 20T, 500G or 1000000")
