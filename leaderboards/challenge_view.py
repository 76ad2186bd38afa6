"""A challenge track's ranking computed from stored results (no Streamlit here).

For a track and one device, every stored entry of the track's quality task with a latency on that
device gets a status, in this order:

* ``rejected``: it breaks a rule the store can check: the track's formats, or it was not timed at
  the track's input shape (a track times its own fixed shape; ``bench challenge --db`` stores that);
* ``invalid``: the board's own validity check failed (no latency, unstable latency, NaN score);
* ``gated``: its PSNR is below the track's gate;
* ``ranked``: scored with the track's formula and constants (baseline constants measured on the
  chosen baseline entry, on the same device), and ranked in the formula's direction.

Every entry stays in the table with its status and reason; only ``ranked`` ones get a rank.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.challenges.formulas import HIGHER_IS_BETTER, Entry, breakdown, score
from bench.challenges.tracks import Track

RANKING_COLUMNS = [
    "rank",
    "submission",
    "team",
    "status",
    "reason",
    "PSNR (dB)",
    "runtime (ms)",
    "MACs (G)",
    "params (K)",
    "score",
]


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "x".join(str(v) for v in shape)


def runtime_of(row: pd.Series, track: Track) -> float:
    return float(row["mean_ms"] if track.timing.statistic == "mean" else row["median_ms"])


def default_baseline(frame: pd.DataFrame) -> str | None:
    """The first entry tagged ``baseline`` (the constants' reference), if any."""
    tagged = frame[["baseline" in {t.strip() for t in str(tags).split(",")} for tags in frame["tags"]]]
    return str(tagged["submission"].iloc[0]) if len(tagged) else None


def baseline_constants(track: Track, frame: pd.DataFrame, baseline: str | None) -> tuple[dict[str, float], str]:
    """The track's constants, with those measured on ``baseline`` filled in; and a note in words."""
    constants = dict(track.score.constants)
    if not track.score.baseline_constants:
        return constants, "constants from the track definition"
    rows = frame[frame["submission"] == baseline] if baseline else frame.iloc[0:0]
    if not len(rows):
        return constants, "no baseline entry chosen: this track scores against a baseline's runtime, FLOPs and params"
    row = rows.iloc[0]
    measured = {"runtime_ms": runtime_of(row, track), "flops": float(row["macs"]), "params": float(row["params"])}
    constants.update({k: measured[k] for k in track.score.baseline_constants})
    listed = ", ".join(f"{k} = {measured[k]:.6g}" for k in track.score.baseline_constants)
    return constants, f"baseline constants measured on `{baseline}` on this device: {listed}"


def _status(track: Track, row: pd.Series) -> tuple[str, str]:
    if row["format"] not in track.rules.formats:
        return "rejected", f"rule: the format must be {' or '.join(track.rules.formats)} (this is {row['format']})"
    wanted = shape_text(track.timing.input_shape)
    if row["input_shape"] != wanted:
        return "rejected", f"timed at {row['input_shape']}, not the track's input {wanted}"
    if not row["valid"]:
        return "invalid", str(row["note"])
    gate = track.score.psnr_gate
    if gate is not None and float(row["psnr"]) < gate:
        return "gated", f"PSNR {float(row['psnr']):.2f} dB is below the gate of {gate:.2f} dB"
    return "ranked", ""


def ranking(track: Track, frame: pd.DataFrame, device: str, baseline: str | None = None) -> tuple[pd.DataFrame, str]:
    """The ranking table of ``frame``'s entries on ``device`` (see the module docstring), and the constants note."""
    on_device = frame[frame["device_label"] == device]
    constants, note = baseline_constants(track, on_device, baseline)
    complete = all(k in constants for k in track.score.baseline_constants)
    records: list[dict[str, Any]] = []
    for _, row in on_device.iterrows():
        status, reason = _status(track, row)
        record: dict[str, Any] = {
            "submission": row["submission"],
            "team": row["team"],
            "status": status,
            "reason": reason,
            "PSNR (dB)": row["psnr"],
            "runtime (ms)": None,
            "MACs (G)": row["macs_g"],
            "params (K)": row["params_k"],
            "score": None,
        }
        if row["median_ms"] is not None and not pd.isna(row["median_ms"]):
            record["runtime (ms)"] = runtime_of(row, track)
        if status == "ranked" and complete:
            entry = Entry(float(row["psnr"]), runtime_of(row, track), float(row["macs"]), float(row["params"]))
            try:
                record["score"] = score(track.score.formula, entry, constants)
                record |= breakdown(track.score.formula, entry, constants)
            except (ValueError, ZeroDivisionError) as exc:
                record["status"], record["reason"] = "invalid", f"cannot be scored: {exc}"
        records.append(record)
    table = pd.DataFrame.from_records(records)
    if table.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS), note
    ranked = table["score"].notna()
    order = table.loc[ranked, "score"].rank(ascending=not HIGHER_IS_BETTER[track.score.formula], method="min")
    table["rank"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
    table.loc[ranked, "rank"] = order.astype("int64")
    extra = [c for c in table.columns if c not in RANKING_COLUMNS]
    table = table[RANKING_COLUMNS + extra]
    table = table.sort_values(["rank", "submission"], na_position="last", kind="stable").reset_index(drop=True)
    return table, note
