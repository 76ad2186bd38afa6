"""The latency measurement protocol (timing only; what is timed is the backend's business).

1. Warm-up: at least ``warmup_runs`` calls and at least ``warmup_min_s`` seconds, within a budget
   of its own, ``warmup_max_s`` (a call that starts within it finishes; one call at the least).
2. Blocks of timed runs: each block runs until it has at least ``min_runs`` runs *and* has
   lasted ``min_s`` seconds, or the timed phase's budget ``max_s`` is spent; a block never has
   fewer than ``floor_runs`` runs (3), however slow the model: only the sandbox's wall-clock
   limit bounds a measurement, so every protocol yields a number. Each run is timed alone
   (``time.perf_counter_ns``, or the backend's own clock, e.g. CUDA events).
3. Stability: blocks are repeated until the medians of the last ``stable_blocks`` blocks lie
   within ``stability`` (relative spread (max - min) / median), or ``max_blocks`` is reached,
   or the budget is spent. The latency's kind says what came of it: ``stable`` (the medians
   agreed), ``unstable`` (they did not, or too few blocks fitted in the budget; the spread is
   kept) or ``quick`` (one block asked for, as with ``QUICK``: stability not assessed).
   Statistics are computed over the runs of the last ``stable_blocks`` blocks.
4. Statistics in milliseconds: median, p90 (linear interpolation, numpy's default), mean, min,
   max, and the coefficient of variation cv = std / mean (population std).

Model loading and the warm-up are never part of the statistics (MLPerf Mobile, TFLite
``benchmark_model`` and the NTIRE scripts all exclude them).
Optionally the process is pinned to ``threads`` CPU cores for the measurement
(``os.sched_setaffinity``), and the cores used are recorded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class LatencySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warmup_runs: int = Field(3, ge=0)
    warmup_min_s: float = Field(0.5, ge=0)
    warmup_max_s: float = Field(30.0, ge=0, description="the warm-up's own budget")
    min_runs: int = Field(20, ge=1)
    floor_runs: int = Field(3, ge=1, description="timed runs of a block however slow the model")
    min_s: float = Field(1.0, ge=0)
    max_s: float = Field(90.0, gt=0, description="budget of the timed phase (blocks)")
    stable_blocks: int = Field(3, ge=1, description="consecutive blocks whose medians must agree")
    stability: float = Field(0.02, gt=0, description="allowed relative spread of those block medians")
    max_blocks: int = Field(8, ge=1)
    pin_threads: bool = Field(True, description="pin the process to as many cores as the backend uses")


QUICK = LatencySettings(
    warmup_runs=2, warmup_min_s=0.2, warmup_max_s=5.0, min_runs=10, min_s=0.3, max_s=20.0, stable_blocks=1,
    max_blocks=1,
)  # fmt: skip
LatencyKind = Literal["stable", "unstable", "quick"]


def latency_kind(stable: bool | None) -> LatencyKind:
    """``quick`` where stability was not assessed (one block), else ``stable`` / ``unstable``."""
    return "quick" if stable is None else "stable" if stable else "unstable"


def kind_text(stable: bool | None, spread: float | None) -> str:
    """The kind as printed beside a latency: ``stable``, ``unstable ±4.1 %`` (the block medians' spread)
    or ``quick``."""
    kind = latency_kind(stable)
    return f"unstable ±{spread / 2:.1%}".replace("%", " %") if kind == "unstable" and spread is not None else kind


class LatencyStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    median_ms: float
    p90_ms: float | None
    mean_ms: float
    min_ms: float
    max_ms: float
    cv: float
    runs: int
    stable: bool | None = None  # None: not assessed (a single block)
    spread: float | None = None  # (max - min) / median of the last blocks' medians; None for one block
    blocks: int = 1
    block_medians_ms: list[float] = Field(default_factory=list)
    cores: list[int] | None = None


def summarize(samples_ms: list[float], **extra: object) -> LatencyStats:
    """Statistics of timed runs (ms); see the module docstring for the definitions."""
    if not samples_ms:
        raise ValueError("no timed runs")
    values = np.asarray(samples_ms, dtype=np.float64)
    mean = float(values.mean())
    return LatencyStats(
        median_ms=float(np.median(values)),
        p90_ms=float(np.percentile(values, 90)),
        mean_ms=mean,
        min_ms=float(values.min()),
        max_ms=float(values.max()),
        cv=float(values.std() / mean) if mean > 0 else 0.0,
        runs=int(values.size),
        **extra,
    )


@contextmanager
def pinned(threads: int, enabled: bool = True) -> Iterator[list[int] | None]:
    """Pin this process to its first ``threads`` allowed cores for the block; yields the cores used."""
    if not enabled or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = sorted(os.sched_getaffinity(0))
    cores = allowed[: max(1, min(threads, len(allowed)))]
    os.sched_setaffinity(0, cores)
    try:
        yield cores
    finally:
        os.sched_setaffinity(0, allowed)


def wall_clock(run_once: Callable[[], object]) -> Callable[[], float]:
    """Wrap a call so it returns its own duration in ms (``time.perf_counter_ns``)."""

    def timed() -> float:
        start = time.perf_counter_ns()
        run_once()
        return (time.perf_counter_ns() - start) / 1e6

    return timed


def _spread(medians: list[float]) -> float:
    middle = float(np.median(medians))
    return (max(medians) - min(medians)) / middle if middle > 0 else 0.0


def measure_timed(timed: Callable[[], float], settings: LatencySettings, threads: int = 1) -> LatencyStats:
    """Run the protocol with ``timed`` returning each run's duration in ms (its own clock)."""
    floor = min(settings.floor_runs, settings.min_runs)
    with pinned(threads, settings.pin_threads) as cores:
        start = time.perf_counter()
        done = 0
        while done < settings.warmup_runs or time.perf_counter() - start < settings.warmup_min_s:
            if done and time.perf_counter() - start >= settings.warmup_max_s:
                break  # the warm-up's own budget is spent (its first call always runs)
            timed()
            done += 1
        deadline = time.perf_counter() + settings.max_s
        blocks: list[list[float]] = []
        stable = False
        while len(blocks) < settings.max_blocks and (time.perf_counter() < deadline or not blocks):
            block: list[float] = []
            begin = time.perf_counter()
            while (len(block) < settings.min_runs or time.perf_counter() - begin < settings.min_s) and (
                time.perf_counter() < deadline or len(block) < floor
            ):
                block.append(timed())
            blocks.append(block)
            recent = [float(np.median(b)) for b in blocks[-settings.stable_blocks :]]
            if len(recent) == settings.stable_blocks and _spread(recent) <= settings.stability:
                stable = True
                break
        window = blocks[-settings.stable_blocks :]
        medians = [float(np.median(b)) for b in window]
        return summarize(
            [t for b in window for t in b],
            stable=stable if settings.stable_blocks > 1 else None,
            spread=_spread(medians) if settings.stable_blocks > 1 and len(medians) > 1 else None,
            blocks=len(blocks),
            block_medians_ms=[float(np.median(b)) for b in blocks],
            cores=cores,
        )


def measure(run_once: Callable[[], object], settings: LatencySettings, threads: int = 1) -> LatencyStats:
    """Warm up, then time ``run_once`` with the wall clock under the protocol."""
    return measure_timed(wall_clock(run_once), settings, threads)
