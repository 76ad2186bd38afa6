"""A challenge track's ranking, pure: rules, statistic, gate, score and ties; no pandas, torch or runtime.

``bench challenge`` (which scores the submissions itself) and the board's challenge page (which
reads what the store holds) both describe each entry as an :class:`Entry` and call
:func:`rank_entries`, so the two always agree. Each entry gets a status, in this order:

* ``rejected``: it breaks a track rule: its format, or it was not timed at the track's input shape
  (``rule_violation`` of the caller, e.g. a missing timing model, also lands here);
* ``invalid``: the caller marked it invalid (the board's missing latency), or its score
  cannot be computed;
* ``gated``: its PSNR is below the track's gate;
* ``ranked``: scored with the track's formula and constants, in the formula's direction.

Ties share a rank and the next rank skips (standard competition ranking, "1224"); rows are listed
by rank, then by submission name. The runtime a formula uses is the track's statistic (mean or
median) of the timed runs. Constants the track takes from a baseline (``baseline_constants``) are
measured on the baseline entry, on the same device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.challenges.formulas import HIGHER_IS_BETTER, breakdown, score
from bench.challenges.formulas import Entry as FormulaEntry
from bench.challenges.tracks import Track


@dataclass(frozen=True)
class Entry:
    """What the ranking knows about one entry. ``timed_shape`` is the input its latency was measured
    at; ``violation`` a rule broken that only the caller can check; ``invalid`` the caller's reason
    to leave it unranked."""

    submission: str
    team: str = ""
    format: str = ""
    psnr: float | None = None
    mean_ms: float | None = None
    median_ms: float | None = None
    macs: float | None = None
    params: float | None = None
    timed_shape: tuple[int, ...] | None = None
    violation: str | None = None
    invalid: str | None = None


@dataclass
class Row:
    """One line of the ranking table: the entry, its status and the reason for it, the runtime the
    formula used (the track's statistic), the score with its named ``terms``, and the rank."""

    entry: Entry
    status: str = "ranked"  # ranked | gated | invalid | rejected
    reason: str = ""
    runtime_ms: float | None = None
    score: float | None = None
    rank: int | None = None
    terms: dict[str, float] = field(default_factory=dict)

    submission = property(lambda self: self.entry.submission)
    team = property(lambda self: self.entry.team)
    psnr = property(lambda self: self.entry.psnr)
    flops = property(lambda self: self.entry.macs)  # multiply-adds, as the challenges count FLOPs
    params = property(lambda self: self.entry.params)

    def record(self) -> dict[str, Any]:
        """The row as plain data (what ``bench challenge --json`` writes)."""
        return {"rank": self.rank, "submission": self.submission, "team": self.team, "status": self.status,
                "reason": self.reason, "psnr": self.psnr, "runtime_ms": self.runtime_ms, "flops": self.flops,
                "params": self.params, "score": self.score, "terms": dict(self.terms)}  # fmt: skip


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "x".join(str(v) for v in shape)


def runtime_of(track: Track, entry: Entry) -> float | None:
    """The track's statistic of the entry's timed runs (ms)."""
    return entry.mean_ms if track.timing.statistic == "mean" else entry.median_ms


def format_rule(track: Track, fmt: str) -> str | None:
    """The format rule in words when ``fmt`` breaks it, else None."""
    if fmt in track.rules.formats:
        return None
    return f"rule: the format must be {' or '.join(track.rules.formats)} (this submission is {fmt})"


def status_of(track: Track, entry: Entry) -> tuple[str, str]:
    """(status, reason) of one entry before scoring (see the module docstring)."""
    violation = entry.violation or format_rule(track, entry.format)
    if violation:
        return "rejected", violation
    wanted = tuple(track.timing.input_shape)
    if entry.timed_shape is not None and tuple(entry.timed_shape) != wanted:
        return "rejected", f"timed at {shape_text(entry.timed_shape)}, not the track's input {shape_text(wanted)}"
    if entry.invalid:
        return "invalid", entry.invalid
    if entry.psnr is None or runtime_of(track, entry) is None:
        return "invalid", "no PSNR or no latency on this device"
    gate = track.score.psnr_gate
    if gate is not None and entry.psnr < gate:
        return "gated", f"PSNR {entry.psnr:.2f} dB is below the gate of {gate:.2f} dB"
    return "ranked", ""


def constants_for(track: Track, baseline: Entry | None) -> tuple[dict[str, float], str]:
    """The track's constants, with those measured on ``baseline`` filled in; and a note in words.
    Without a baseline a track that needs one keeps its constants incomplete (nothing is scored)."""
    constants = dict(track.score.constants)
    if not track.score.baseline_constants:
        return constants, "constants from the track definition"
    if baseline is None:
        return constants, "no baseline entry chosen: this track scores against a baseline's runtime, FLOPs and params"
    measured = {"runtime_ms": runtime_of(track, baseline), "flops": baseline.macs, "params": baseline.params}
    constants.update({k: float(measured[k] or 0.0) for k in track.score.baseline_constants})
    listed = ", ".join(f"{k} = {constants[k]:.6g}" for k in track.score.baseline_constants)
    return constants, f"baseline constants measured on {baseline.submission} on this device: {listed}"


def _row(track: Track, entry: Entry, constants: dict[str, float], complete: bool) -> Row:
    status, reason = status_of(track, entry)
    runtime = runtime_of(track, entry)
    row = Row(entry, status, reason, runtime)
    if status in ("ranked", "gated") and complete:  # a gated entry shows its score, it is not ranked
        assert entry.psnr is not None and runtime is not None
        measured = FormulaEntry(entry.psnr, runtime, entry.macs, entry.params)
        try:
            row.score = score(track.score.formula, measured, constants)
            row.terms = breakdown(track.score.formula, measured, constants)
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            row.status, row.reason, row.score, row.terms = "invalid", f"cannot be scored: {exc}", None, {}
    return row


def rank_entries(track: Track, entries: list[Entry], constants: dict[str, float]) -> list[Row]:
    """Every entry's row (see the module docstring), best first; only ``ranked`` rows get a rank."""
    complete = all(k in constants for k in track.score.baseline_constants)
    rows = [_row(track, entry, constants, complete) for entry in entries]
    higher = HIGHER_IS_BETTER[track.score.formula]
    ranked = sorted((r for r in rows if r.status == "ranked" and r.score is not None),
                    key=lambda r: -(r.score or 0.0) if higher else (r.score or 0.0))  # fmt: skip
    for position, row in enumerate(ranked, 1):
        previous = ranked[position - 2] if position > 1 else None
        row.rank = previous.rank if previous is not None and previous.score == row.score else position
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, r.submission))


def published_rows(track: Track) -> list[Row]:
    """The track's published rows scored with its own formula and constants (the official table, to
    compare a rerun with)."""
    fmt = track.rules.formats[0]
    entries = [Entry(p.entry, format=fmt, psnr=p.psnr, mean_ms=p.runtime_ms, median_ms=p.runtime_ms, macs=p.flops,
                     params=p.params) for p in track.published]  # fmt: skip
    return rank_entries(track, entries, dict(track.score.constants))
