"""Data shaping for the leaderboard: plain functions over ``Store.leaderboard_rows()`` dicts.

Nothing here imports Streamlit, so every function is unit-testable on its own. The board
(``leaderboards/app.py``) only wires these to widgets.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import altair as alt
import pandas as pd

from bench.pareto import pareto_front

Row = Mapping[str, Any]

#: Display columns of the per-task table, in order (source key -> header).
TABLE_COLUMNS: dict[str, str] = {
    "submission": "submission",
    "team": "team",
    "device": "device",
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "lpips": "LPIPS",
    "median_ms": "median latency (ms)",
    "p90_ms": "p90 (ms)",
    "macs_g": "MACs (G)",
    "params": "params",
    "tags": "tags",
    "pareto": "Pareto",
    "latency_kind": "latency kind",
    "date": "date",
}

LOG_SCALE_SPAN = 10.0


def db_argument(argv: Sequence[str]) -> str | None:
    """The ``--db URL`` given after ``streamlit run app.py --``; other arguments are ignored."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--db", default=None)
    known, _ = parser.parse_known_args(list(argv))
    db: str | None = known.db
    return db


def task_ids(rows: Sequence[Row]) -> list[str]:
    """Ids of the tasks that have results, sorted."""
    return sorted({str(row["task"]) for row in rows})


def task_label(task_id: str, titles: Mapping[str, str]) -> str:
    """``title (id)`` for a registered task, ``id (not registered)`` for one that no longer is."""
    title = titles.get(task_id)
    return f"{title} ({task_id})" if title else f"{task_id} (not registered)"


def task_versions(rows: Sequence[Row], task: str) -> list[int]:
    """Versions of ``task`` that have results, newest first."""
    return sorted({int(row["task_version"]) for row in rows if row["task"] == task}, reverse=True)


def select_rows(rows: Sequence[Row], task: str, version: int | None = None) -> list[Row]:
    """Rows of one task (and one task version: results of different versions are never compared)."""
    if version is None:
        versions = task_versions(rows, task)
        version = versions[0] if versions else None
    return [row for row in rows if row["task"] == task and row["task_version"] == version]


def devices(rows: Sequence[Row]) -> list[str]:
    """Devices measured in ``rows``, by number of rows (most first), then by name."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["device"])] = counts.get(str(row["device"]), 0) + 1
    return sorted(counts, key=lambda name: (-counts[name], name))


def pareto_flags(rows: Sequence[Row]) -> list[bool]:
    """For each row, whether it is on the PSNR-vs-median-latency front of *its own device*."""
    flags = [False] * len(rows)
    by_device: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        by_device.setdefault(str(row["device"]), []).append(position)
    for positions in by_device.values():
        points = [(float(rows[p]["median_ms"]), float(rows[p]["psnr"])) for p in positions]
        for index in pareto_front(points):
            flags[positions[index]] = True
    return flags


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def board_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """All columns the board needs, one row per (result, device), with the per-device Pareto flag."""
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "result_id",
            "task",
            "task_version",
            "submission",
            "team",
            "sha256",
            "tags",
            "precision",
            "psnr",
            "ssim",
            "lpips",
            "macs",
            "params",
            "created_at",
            "device",
            "backend",
            "median_ms",
            "p90_ms",
            "latency_kind",
        ],
    )
    frame["lpips"] = pd.to_numeric(frame["lpips"], errors="coerce")
    frame["macs_g"] = frame["macs"].astype(float) / 1e9
    frame["pareto"] = pareto_flags(rows)
    frame["date"] = [_date(value) for value in frame["created_at"]]
    return frame


def task_table(rows: Sequence[Row]) -> pd.DataFrame:
    """The per-task table: display columns, sorted by PSNR (best first), then median latency."""
    frame = board_frame(rows).sort_values(["psnr", "median_ms"], ascending=[False, True], kind="stable")
    return frame[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS).reset_index(drop=True)


def device_frame(rows: Sequence[Row], device: str) -> pd.DataFrame:
    """Rows of one device for the scatter, with ``pareto`` and a ``status`` label."""
    frame = board_frame([row for row in rows if row["device"] == device])
    frame["status"] = ["on the Pareto front" if flag else "dominated" for flag in frame["pareto"]]
    return frame.reset_index(drop=True)


def front_line(frame: pd.DataFrame) -> pd.DataFrame:
    """The front's points in ascending latency (for the step line)."""
    front = frame[frame["pareto"]].sort_values(["median_ms", "psnr"], kind="stable")
    return front[["median_ms", "psnr", "submission"]].reset_index(drop=True)


def use_log_scale(latencies: Sequence[float]) -> bool:
    """Log x when all latencies are positive and span more than ``LOG_SCALE_SPAN``x."""
    values = [float(v) for v in latencies]
    if not values or min(values) <= 0:
        return False
    return max(values) / min(values) > LOG_SCALE_SPAN


def latency_note(rows: Sequence[Row]) -> str:
    """The sentence saying what kind of latency the numbers are (from the ``latency_kind`` column)."""
    kinds = sorted({str(row["latency_kind"]) for row in rows})
    if kinds == ["measured"]:
        return (
            "Latencies are **measured** (latency kind: `measured`): the median and p90 of timed runs "
            "on the named device and backend, not predicted from per-layer tables."
        )
    listed = ", ".join(f"`{kind}`" for kind in kinds)
    return f"Latency kinds in this view: {listed} (see the latency kind column)."


def scatter_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """PSNR vs median latency; the front as a step line, dominated entries faded."""
    log = use_log_scale(frame["median_ms"].tolist())
    x = alt.X(
        "median_ms:Q",
        title="median latency (ms)" + (", log scale" if log else ""),
        scale=alt.Scale(type="log") if log else alt.Scale(zero=False),
    )
    y = alt.Y("psnr:Q", title="PSNR (dB)", scale=alt.Scale(zero=False))
    data = frame[["submission", "team", "median_ms", "p90_ms", "psnr", "ssim", "macs_g", "status"]]
    colours = alt.Scale(domain=["on the Pareto front", "dominated"], range=["#d62728", "#7f7f7f"])
    tooltip = [
        "submission",
        "team",
        alt.Tooltip("psnr:Q", format=".3f"),
        alt.Tooltip("ssim:Q", format=".4f"),
        alt.Tooltip("median_ms:Q", format=".3f"),
        alt.Tooltip("p90_ms:Q", format=".3f"),
        alt.Tooltip("macs_g:Q", title="MACs (G)", format=".3f"),
    ]
    points = (
        alt.Chart(data)
        .mark_circle(size=90)
        .encode(
            x=x,
            y=y,
            color=alt.Color("status:N", title=None, scale=colours),
            opacity=alt.condition("datum.status == 'on the Pareto front'", alt.value(1.0), alt.value(0.35)),
            tooltip=tooltip,
        )
        .interactive()
    )
    line = alt.Chart(front_line(frame)).mark_line(interpolate="step-after", color="#d62728").encode(x=x, y=y)
    return alt.LayerChart(layer=[line, points])
