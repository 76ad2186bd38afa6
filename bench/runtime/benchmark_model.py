"""TFLite ``benchmark_model``: the command line run on a phone, and the parser of what it prints.

Pure functions (no adb, no subprocess); :mod:`bench.runtime.backends.android` runs them.

Flag mapping, :class:`~bench.runtime.protocol.LatencySettings` -> ``benchmark_model``:

=============  ======================  =====================================================
ours           benchmark_model         note
=============  ======================  =====================================================
warmup_runs    ``--warmup_runs``       minimum warm-up runs (its default 1)
warmup_min_s   ``--warmup_min_secs``   minimum warm-up duration (its default 0.5)
min_runs       ``--num_runs``          a *minimum*, as ours: it runs until ``num_runs`` runs
                                       *and* ``min_secs`` seconds, stopping at ``max_secs``
min_s          ``--min_secs``          (its default 1)
max_s          ``--max_secs``          benchmark_model caps each phase (warm-up, timed)
                                       separately, so a run may take up to 2 x max_s + init
=============  ======================  =====================================================

Not applied: ``stable_blocks``/``stability``/``max_blocks`` (one invocation is one block, so the
stats say ``stable=None``, not assessed) and ``pin_threads`` (benchmark_model has no affinity
flag). Delegates: ``cpu`` -> ``--use_xnnpack=true``, ``gpu`` -> ``--use_gpu=true`` (note: its GPU
delegate allows fp16 arithmetic unless ``--gpu_precision_loss_allowed=false`` is passed as an extra
flag), ``nnapi`` -> ``--use_nnapi=true``. Op profiling is always off (it perturbs the timing).

What it prints (``INFO:``/logcat prefixes vary by build; large values use exponents)::

    Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if ...
    count=6 first=91810 curr=85097 min=84834 max=91810 avg=86184.3 std=2519          <- warm-up
    Running benchmark for at least 50 iterations and at least 1 seconds but terminate if ...
    count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798
    Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, ...

Newer builds append ``p5= median= p95=`` to the stats lines; a phase whose runs were all equal
prints ``count=N curr=X``; very old builds print the summary as ``Average inference timings in
us: Warmup: W, Init: I, no stats: A``. ``std`` is the population standard deviation (TFLite's
``Stat``), like ours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.runtime.errors import BackendUnavailable
from bench.runtime.protocol import LatencySettings, LatencyStats

DELEGATE_FLAGS = {"cpu": "--use_xnnpack=true", "gpu": "--use_gpu=true", "nnapi": "--use_nnapi=true"}

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_HEADER = re.compile(r"Running benchmark for at least \d+ iterations")
_STATS = re.compile(r"\bcount=(\d+)\b(.*)")
_PAIR = re.compile(rf"\b(first|curr|min|max|avg|std|p5|median|p95)=({_NUM})")
_SUMMARY = re.compile(
    rf"Inference timings in us: Init: ({_NUM}), First inference: ({_NUM}), "
    rf"Warmup \(avg\): ({_NUM}), Inference \(avg\): ({_NUM})"
)
_OLD_SUMMARY = re.compile(rf"Average inference timings in us: Warmup: ({_NUM}), Init: ({_NUM}), [^:,]+: ({_NUM})")
_DELEGATION = re.compile(r"Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate \((\w+)\)")
_UNSUPPORTED = re.compile(r"Following operations are not supported by (\w+) delegate")
_UNSUPPORTED_OP = re.compile(r"^(?:[A-Z]+: )?([A-Z][A-Z0-9_]*): (.+)$")
_FATAL = re.compile(r"Benchmarking failed|Failed to apply \w+ delegate", re.I)
_TROUBLE = re.compile(r"error|failed|failure|not found|no such file|permission denied|cannot|abort|fault", re.I)


class BenchmarkModelError(BackendUnavailable):
    """benchmark_model failed or printed no usable timing; the message quotes its error lines."""


@dataclass(frozen=True)
class Delegation:
    """One ``Replacing N [out of M] node(s) with delegate (NAME)`` line."""

    delegate: str
    nodes: int
    total: int | None


@dataclass(frozen=True)
class BenchmarkModelResult:
    """One benchmark_model run, in microseconds. ``first_us`` is None for the oldest summary format;
    ``p5``/``median``/``p95`` are None where the build prints no percentiles."""

    init_us: float
    first_us: float | None
    warmup_avg_us: float
    inference_avg_us: float
    count: int
    min: float
    max: float
    avg: float
    std: float
    p5: float | None = None
    median: float | None = None
    p95: float | None = None
    delegations: tuple[Delegation, ...] = ()
    fallback_ops: tuple[str, ...] = ()  # op types the delegate listed as not supported (they run on the CPU)

    @property
    def median_is_mean(self) -> bool:
        """True where no percentiles were printed and :func:`to_latency_stats` reports the mean as median."""
        return self.median is None


def _secs(value: float) -> str:
    """Seconds as a plain decimal (no exponent): 2.0 -> '2', 0.5 -> '0.5'."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def benchmark_command(
    device_model_path: str,
    delegate: str,
    threads: int,
    settings: LatencySettings,
    binary: str = "/data/local/tmp/benchmark_model",
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The exact argv run on the phone (``binary`` first); see the module docstring for the mapping."""
    if delegate not in DELEGATE_FLAGS:
        raise ValueError(f"unknown delegate {delegate!r}; use one of {', '.join(DELEGATE_FLAGS)}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return [
        binary,
        f"--graph={device_model_path}",
        f"--num_threads={threads}",
        f"--warmup_runs={settings.warmup_runs}",
        f"--warmup_min_secs={_secs(settings.warmup_min_s)}",
        f"--num_runs={settings.min_runs}",
        f"--min_secs={_secs(settings.min_s)}",
        f"--max_secs={_secs(settings.max_s)}",
        DELEGATE_FLAGS[delegate],
        "--enable_op_profiling=false",
        *extra_flags,
    ]


def _trouble(lines: list[str], limit: int = 6) -> str:
    found = [line.strip() for line in lines if _TROUBLE.search(line)]
    if not found:
        found = [line.strip() for line in lines if line.strip()][-3:]
    return " | ".join(found[-limit:]) or "(no output)"


def _stats(line: str) -> dict[str, float] | None:
    match = _STATS.search(line)
    if match is None:
        return None
    values = {key: float(value) for key, value in _PAIR.findall(match.group(2))}
    values["count"] = float(match.group(1))
    if "avg" not in values and "curr" in values:  # "count=N curr=X": all runs took the same time
        values.update(first=values["curr"], min=values["curr"], max=values["curr"], avg=values["curr"], std=0.0)
    return values


def parse_benchmark_output(text: str) -> BenchmarkModelResult:
    """The timed phase's statistics and the summary of a benchmark_model log (any extra lines around).

    The timed phase is the stats line right after the *last* "Running benchmark for at least ..."
    header (the first header is the warm-up); without headers, the last stats line before the
    summary. It must agree with the summary's ``Inference (avg)``, so a warm-up line is never taken
    for the timed runs. Raises :class:`BenchmarkModelError` when the tool failed or the log lacks them.
    """
    lines = text.replace("\r", "").splitlines()
    if any(_FATAL.search(line) for line in lines):  # a delegate not applied would time the wrong thing
        raise BenchmarkModelError(f"benchmark_model failed: {_trouble(lines)}")
    summary_at = -1
    summary: tuple[float, float | None, float, float] | None = None
    for i, line in enumerate(lines):
        if (m := _SUMMARY.search(line)) is not None:
            v = [float(g) for g in m.groups()]
            summary_at, summary = i, (v[0], v[1], v[2], v[3])
        elif (m := _OLD_SUMMARY.search(line)) is not None:  # Warmup, Init, average
            v = [float(g) for g in m.groups()]
            summary_at, summary = i, (v[1], None, v[0], v[2])
    if summary is None:
        raise BenchmarkModelError(f"benchmark_model printed no 'Inference timings' summary: {_trouble(lines)}")
    headers = [i for i, line in enumerate(lines[:summary_at]) if _HEADER.search(line)]
    start = headers[-1] + 1 if headers else 0
    candidates = [(i, s) for i in range(start, summary_at) if (s := _stats(lines[i])) is not None]
    if not candidates:
        raise BenchmarkModelError(f"benchmark_model printed no statistics for the timed runs: {_trouble(lines)}")
    at, stats = candidates[0] if headers else candidates[-1]
    init, first, warm, inference = summary
    if stats["count"] < 1 or "avg" not in stats:
        raise BenchmarkModelError(f"benchmark_model timed no runs ({lines[at].strip()})")
    if not math.isclose(stats["avg"], inference, rel_tol=1e-4):
        raise BenchmarkModelError(
            f"benchmark_model's stats line (avg={stats['avg']:g}) disagrees with its summary "
            f"(Inference (avg): {inference:g}); the log is not a single complete run"
        )
    delegations = tuple(
        Delegation(m.group(3), int(m.group(1)), int(m.group(2)) if m.group(2) else None)
        for line in lines
        if (m := _DELEGATION.search(line)) is not None
    )
    return BenchmarkModelResult(
        fallback_ops=fallback_ops(lines),
        init_us=init,
        first_us=first,
        warmup_avg_us=warm,
        inference_avg_us=inference,
        count=int(stats["count"]),
        min=stats["min"],
        max=stats["max"],
        avg=stats["avg"],
        std=stats["std"],
        p5=stats.get("p5"),
        median=stats.get("median"),
        p95=stats.get("p95"),
        delegations=delegations,
    )


def fallback_ops(lines: list[str]) -> tuple[str, ...]:
    """The op types a delegate's log lists after ``Following operations are not supported by ... delegate:``
    (one ``OP_NAME: reason`` line each, e.g. ``GATHER_ND: Operation is not supported.``), in order, once."""
    found: list[str] = []
    for i, line in enumerate(lines):
        if _UNSUPPORTED.search(line):
            for following in lines[i + 1 :]:
                m = _UNSUPPORTED_OP.match(following.strip())
                if m is None:
                    break
                if m.group(1) not in found:
                    found.append(m.group(1))
    return tuple(found)


def to_latency_stats(result: BenchmarkModelResult) -> LatencyStats:
    """Milliseconds. ``median_ms`` is benchmark_model's median where it printed percentiles, else its
    mean (``result.median_is_mean`` says so; the backend records it in ``describe()``). ``p90_ms`` is
    None: benchmark_model prints p5/median/p95 at most. cv = std / avg (both population); one
    invocation is one block, so ``stable`` is None (not assessed)."""
    median_us = result.median if result.median is not None else result.avg
    return LatencyStats(
        median_ms=median_us / 1e3,
        p90_ms=None,
        mean_ms=result.avg / 1e3,
        min_ms=result.min / 1e3,
        max_ms=result.max / 1e3,
        cv=result.std / result.avg if result.avg > 0 else 0.0,
        runs=result.count,
        stable=None,
        blocks=1,
        block_medians_ms=[median_us / 1e3],
        cores=None,
    )
