"""A challenge track's ranking computed from stored results (no Streamlit here).

Each stored entry of the track's quality task with a latency on the chosen device becomes a
:class:`bench.challenges.ranking.Entry` and is ranked by :mod:`bench.challenges.ranking`, the same
pure module ``bench challenge`` uses: same rules, gate, statistic, score and ties. The board adds
one status reason of its own: ``invalid`` with the board's validity note (no latency or a NaN
score; an unstable latency is ranked and marked). Every entry stays in the table with its status
and reason; only ``ranked`` ones get a rank.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.challenges.ranking import Entry, constants_for, rank_entries
from bench.challenges.tracks import Track
from bench.reserved import trusted_baseline

RANKING_COLUMNS = [
    "rank",
    "submission",
    "team",
    "status",
    "reason",
    "PSNR (dB)",
    "runtime (ms)",
    "latency",
    "MACs (G)",
    "params (K)",
    "score",
]


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _shape(text: Any) -> tuple[int, ...] | None:
    """The frame's ``input_shape`` text ("1x3x256x256") as a tuple, None where there is none."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return tuple(int(v) for v in text.split("x"))
    except ValueError:
        return None


def entry_of(row: pd.Series) -> Entry:
    """One board row (a run on one device) as a ranking entry."""
    return Entry(
        submission=str(row["submission"]),
        team=str(row["team"]),
        format=str(row["format"]),
        psnr=_number(row["psnr"]),
        mean_ms=_number(row["mean_ms"]),
        median_ms=_number(row["median_ms"]),
        macs=_number(row["macs"]),
        params=_number(row["params"]),
        timed_shape=_shape(row["input_shape"]),
        invalid=None if bool(row["valid"]) else str(row["note"]),
    )


def default_baseline(frame: pd.DataFrame) -> str | None:
    """The first of the project's own baselines (the constants' reference), if any: a reserved team and the
    ``baseline`` tag (:func:`bench.reserved.trusted_baseline`); a stranger's self-declared tag is never chosen."""
    trusted = [
        trusted_baseline(str(team), [t.strip() for t in str(tags).split(",")])
        for team, tags in zip(frame["team"], frame["tags"], strict=True)
    ]
    chosen = frame[trusted]
    return str(chosen["submission"].iloc[0]) if len(chosen) else None


def ranking(track: Track, frame: pd.DataFrame, device: str, baseline: str | None = None) -> tuple[pd.DataFrame, str]:
    """The ranking table of ``frame``'s entries on ``device`` (see the module docstring), and the constants note."""
    on_device = frame[frame["device_label"] == device]
    entries = [entry_of(row) for _, row in on_device.iterrows()]
    base = next((e for e in entries if e.submission == baseline), None) if baseline else None
    constants, note = constants_for(track, base)
    rows = rank_entries(track, entries, constants)
    stability = dict(zip(on_device["submission"].astype(str), on_device["stability"], strict=True))
    if not rows:
        return pd.DataFrame(columns=RANKING_COLUMNS), note
    records: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {
            "rank": row.rank,
            "submission": row.submission,
            "team": row.team,
            "status": row.status,
            "reason": row.reason,
            "PSNR (dB)": row.psnr,
            "runtime (ms)": row.runtime_ms,
            "latency": stability.get(row.submission, ""),
            "MACs (G)": None if row.flops is None else row.flops / 1e9,
            "params (K)": None if row.params is None else row.params / 1e3,
            "score": row.score,
        }
        records.append(record | row.terms)
    table = pd.DataFrame.from_records(records)
    table["rank"] = table["rank"].astype("Int64")
    extra = [c for c in table.columns if c not in RANKING_COLUMNS]
    return table[RANKING_COLUMNS + extra].reset_index(drop=True), note
