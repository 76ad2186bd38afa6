"""The latency measurement protocol (timing only; what is timed is the backend's business).

1. Warm-up: at least ``warmup_runs`` calls and at least ``warmup_min_s`` seconds.
2. Timed runs, each a single call timed with ``time.perf_counter_ns``, until at least
   ``min_runs`` runs *and* ``min_s`` seconds (stopping early at ``max_s``).
3. Statistics over the timed runs, in milliseconds: median, p90 (linear interpolation, numpy's
   default), mean, min, max, and the coefficient of variation cv = std / mean (population std).

Model loading and the warm-up are never part of the statistics (MLPerf Mobile, TFLite
``benchmark_model`` and the NTIRE scripts all exclude them).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class LatencySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warmup_runs: int = Field(3, ge=0)
    warmup_min_s: float = Field(0.5, ge=0)
    min_runs: int = Field(20, ge=1)
    min_s: float = Field(2.0, ge=0)
    max_s: float = Field(60.0, gt=0)


QUICK = LatencySettings(warmup_runs=2, warmup_min_s=0.2, min_runs=10, min_s=0.5, max_s=20.0)


class LatencyStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    cv: float
    runs: int


def summarize(samples_ms: list[float]) -> LatencyStats:
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
    )


def measure(run_once: Callable[[], object], settings: LatencySettings) -> LatencyStats:
    """Warm up, then time ``run_once`` until the settings' count and duration minimums are met."""
    start = time.perf_counter()
    done = 0
    while done < settings.warmup_runs or time.perf_counter() - start < settings.warmup_min_s:
        run_once()
        done += 1
        if time.perf_counter() - start > settings.max_s:
            break
    samples: list[float] = []
    begin = time.perf_counter()
    while True:
        t0 = time.perf_counter_ns()
        run_once()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        elapsed = time.perf_counter() - begin
        if (len(samples) >= settings.min_runs and elapsed >= settings.min_s) or elapsed >= settings.max_s:
            break
    return summarize(samples)
