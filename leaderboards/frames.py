"""Data shaping for the board: pandas frames over the store's board rows (no Streamlit here).

A *board frame* has one row per (result, latency) with the display fields added:

* ``device_label``: the device id, with `` (predicted)`` appended when the latency is predicted
  from a per-layer table rather than measured, so the two are never grouped, compared or
  plotted as the same thing;
* ``note``: why an entry is invalid ("" when it is valid): no latency or a non-finite score.
  Invalid entries stay in every table, marked, and never take part in a Pareto front;
* ``stability``: the latency's kind from the protocol, ``stable``, ``unstable ±x %`` (its block
  medians' half-spread) or ``quick`` (one block, not assessed); ``stability_kind`` without the spread.
  Every kind is ranked and on the fronts, marked in tables and by its point's shape on charts, and the
  task page can hide quick or unstable entries: none outranks the others unseen or disappears;
* ``pareto``: on the front of its own ``device_label`` for the chosen quality and cost
  (see :func:`pareto_mask`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from bench.metrics.registry import METRICS
from bench.pareto import pareto_front
from bench.runtime.protocol import kind_text, latency_kind
from bench.store.board_rows import board_columns
from bench.store.export import spreadsheet_safe
from bench.text import printable, without_paths

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Axis:
    column: str
    title: str
    higher_is_better: bool
    digits: int


#: Quality axes the user may choose (y of the chart): every registered metric, its title, direction
#: and precision read from the metric object.
QUALITY: dict[str, Axis] = {m.name: Axis(m.name, m.axis_title, m.higher_is_better, m.digits) for m in METRICS.values()}
#: Cost axes the user may choose (x of the chart), all minimised.
COSTS: dict[str, Axis] = {
    "median_ms": Axis("median_ms", "median latency (ms)", False, 3),
    "macs_g": Axis("macs_g", "MACs (G)", False, 3),
    "params_k": Axis("params_k", "params (K)", False, 1),
}

FRAME_COLUMNS = board_columns()  # the store's board rows, as read
TEXT_COLUMNS = ("submission", "team", "format", "architecture", "tags", "precision", "backend")

#: The task table's columns (frame column -> header), in order.
TABLE_COLUMNS: dict[str, str] = {
    "submission": "submission",
    "team": "team",
    "device_label": "device",
    "backend": "backend",
    **{m.name: m.title for m in METRICS.values()},
    "median_ms": "median latency (ms)",
    "p90_ms": "p90 (ms)",
    "latency_kind": "latency kind",
    "stability": "stability",
    "macs_g": "MACs (G)",
    "params_k": "params (K)",
    "precision": "precision",
    "tags": "tags",
    "pareto": "Pareto",
    "note": "note",
    "date": "date",
    "details": "details",
}


#: Decimals of every number column a table may show, by header: each metric's own precision (from its
#: metric object), then the latency, cost and complexity columns.
NUMBER_DIGITS: dict[str, int] = {
    **{m.title: m.digits for m in METRICS.values()},
    "median latency (ms)": 3,
    "p90 (ms)": 3,
    "fastest (ms)": 3,
    "MACs (G)": 3,
    "params (K)": 1,
}


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$!])")  # what makes links, images, emphasis, code, HTML, math


def as_text(value: object) -> str:
    """A submitter's text for a place Streamlit renders as Markdown (a heading, a caption): control
    characters dropped and every Markdown character escaped, so ``![x](http://...)`` shows as written
    and fetches nothing."""
    return _MARKDOWN.sub(r"\\\1", plain(value))


def plain(value: object, keep: str = "") -> str:
    """Any text for a page (a table cell, a caption): "" for a missing value, control characters dropped (but
    those in ``keep``, e.g. a model card's newlines) and file-system paths cut to their last component
    (:func:`bench.text.without_paths`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return without_paths(printable(str(value), replacement="", keep=keep))


def entry_note(row: Row) -> str:
    """Why an entry is invalid, in words ("" when valid)."""
    psnr, median = row.get("psnr"), row.get("median_ms")
    if psnr is None or not math.isfinite(float(psnr)):
        return "invalid: non-finite quality score"
    if median is None or math.isnan(float(median)):
        return "invalid: no latency measured"
    return ""


def stability_of(median: Any, stable: Any, spread: Any, kind: Any) -> tuple[str, str]:
    """(text, kind) of a latency's stability for the board: ``stable``, ``unstable ±x %`` or ``quick`` for a
    measured latency, the kind itself (``predicted``) for one that is not, ("", "") without a latency."""
    if median is None or pd.isna(median):
        return "", ""
    if kind is not None and not pd.isna(kind) and kind != "measured":
        return str(kind), str(kind)
    flag = None if stable is None or pd.isna(stable) else bool(stable)
    width = None if spread is None or pd.isna(spread) else float(spread)
    return kind_text(flag, width), latency_kind(flag)


def device_label(device: Any, kind: Any) -> str | None:
    """``device``, or ``device (kind)`` for a latency that is not measured (e.g. predicted)."""
    if device is None or pd.isna(device):
        return None
    return str(device) if kind is None or pd.isna(kind) or kind == "measured" else f"{device} ({kind})"


def board_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """The board frame of ``rows`` (see the module docstring); ``pareto`` is left False."""
    frame = pd.DataFrame(list(rows), columns=list(FRAME_COLUMNS))
    for column in (*QUALITY, "median_ms", "p90_ms", "mean_ms", "cv", "macs", "params"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in TEXT_COLUMNS:  # a missing text is "", never "None"; a submitter's text is data (no paths shown)
        frame[column] = [plain(value) for value in frame[column]]
    frame["macs_g"] = frame["macs"] / 1e9
    frame["params_k"] = frame["params"] / 1e3
    frame["device_label"] = [device_label(d, k) for d, k in zip(frame["device"], frame["latency_kind"], strict=True)]
    frame["note"] = [entry_note(row) for row in frame[["psnr", "median_ms"]].to_dict("records")]
    stability = [stability_of(m, s, p, k) for m, s, p, k in frame[["median_ms", "stable", "spread", "latency_kind"]]
                 .itertuples(index=False)]  # fmt: skip
    frame["stability"] = [text for text, _ in stability]
    frame["stability_kind"] = [kind for _, kind in stability]
    frame["valid"] = frame["note"] == ""
    created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    frame["date"] = created.dt.strftime("%Y-%m-%d %H:%M").fillna("")
    frame["day"] = created.dt.date
    frame["details"] = [f"?page=submission&run={int(run)}" for run in frame["result_id"]]
    frame["pareto"] = False
    return frame


def pareto_mask(frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms") -> pd.Series:
    """Whether each entry is on the front of its own ``device_label``: not dominated in (``cost``
    minimised, ``quality`` maximised, or minimised for LPIPS) by another valid entry of that group.
    Invalid entries, entries without a device and missing values are never on a front."""
    axis = QUALITY[quality]
    mask = pd.Series(False, index=frame.index)
    usable = frame[frame["valid"] & frame["device_label"].notna() & frame[quality].notna() & frame[cost].notna()]
    for _, group in usable.groupby("device_label", sort=False):
        points = list(zip(group[cost].to_numpy(float), group[quality].to_numpy(float), strict=True))
        front = pareto_front(points, maximize_y=axis.higher_is_better)
        mask.loc[group.index[front]] = True
    return mask


def with_pareto(frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms") -> pd.DataFrame:
    out = frame.copy()
    out["pareto"] = pareto_mask(out, quality, cost)
    return out


@dataclass(frozen=True)
class Filters:
    """The task page's filters; an empty list means "no restriction"."""

    devices: list[str] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)
    precisions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    stabilities: list[str] = field(default_factory=list)  # stable / unstable / quick (empty: all)
    since: date | None = None
    until: date | None = None


def tag_set(frame: pd.DataFrame) -> list[str]:
    return sorted({tag.strip() for tags in frame["tags"] for tag in str(tags).split(",") if tag.strip()})


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows that pass every filter (tags: an entry passes with any one of the chosen tags)."""
    keep = np.ones(len(frame), dtype=bool)
    for column, chosen in (
        ("device_label", filters.devices),
        ("backend", filters.backends),
        ("precision", filters.precisions),
        ("team", filters.teams),
        ("stability_kind", filters.stabilities),
    ):
        if chosen:
            keep &= frame[column].isin(chosen).to_numpy()
    if filters.tags:
        wanted = set(filters.tags)
        keep &= np.array([bool(wanted & {t.strip() for t in str(tags).split(",")}) for tags in frame["tags"]], bool)
    if filters.since is not None:
        keep &= np.array([d is not None and not pd.isna(d) and d >= filters.since for d in frame["day"]], bool)
    if filters.until is not None:
        keep &= np.array([d is not None and not pd.isna(d) and d <= filters.until for d in frame["day"]], bool)
    return frame[keep]


def choices(frame: pd.DataFrame, column: str) -> list[str]:
    """Distinct non-empty values of ``column``, most frequent first, then by name."""
    counts = frame[column].dropna().astype(str).value_counts()
    return sorted(counts.index, key=lambda name: (-int(counts[name]), name))


def csv_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as UTF-8 CSV (what the download buttons serve). A text cell that a spreadsheet would run as
    a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``."""
    return spreadsheet_safe(table).to_csv(index=False).encode("utf-8")


def latency_note(frame: pd.DataFrame) -> str:
    """The sentence saying what kind of latency the numbers in ``frame`` are."""
    kinds = sorted({str(k) for k in frame["latency_kind"].dropna()})
    if kinds == ["measured"]:
        return (
            "Latencies are **measured**: the median and p90 of timed runs on the named device and "
            "backend, not predicted from per-layer tables."
        )
    if not kinds:
        return "No latency in this view."
    listed = ", ".join(f"`{kind}`" for kind in kinds)
    return (
        f"Latency kinds in this view: {listed}. Predicted latencies carry `(predicted)` in the device "
        "name and are never on the same chart or front as measured ones."
    )


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None


#: The reported-results table's columns (docs/board.md): what papers publish, never measured here.
REPORTED_COLUMNS = ["model", "year", "PSNR (dB)", "SSIM", "params (K)", "MACs (G)", "MACs as published (G)", "source",
                    "paper"]  # fmt: skip


def reported_frame(task_id: str) -> pd.DataFrame:
    """The reported entries of ``task_id`` (:mod:`bench.reported`) as plot-ready rows: ``macs_g`` scaled to the
    task's latency input (pixels), ``params_k``, and display columns; empty when its papers report none."""
    from bench.reported import reported_for
    from bench.tasks import get_task

    task = get_task(task_id)
    records = []
    for entry in reported_for(task_id):
        at_task = entry.macs_at(task.latency.input_shape, task.size_ratio)
        published = None if entry.macs is None or entry.macs_output is None else (
            f"{entry.macs / 1e9:.1f} for {entry.macs_output[1]}x{entry.macs_output[0]} output")  # fmt: skip
        records.append({
            "submission": entry.name, "model": entry.name, "year": entry.year, "psnr": entry.psnr, "ssim": entry.ssim,
            "params_k": None if entry.params is None else entry.params / 1e3,
            "macs_g": None if at_task is None else at_task / 1e9, "published_macs": published,
            "source": entry.source, "paper": entry.paper,
        })  # fmt: skip
    return pd.DataFrame.from_records(records, columns=["submission", "model", "year", "psnr", "ssim", "params_k",
                                                       "macs_g", "published_macs", "source", "paper"])  # fmt: skip


def reported_table(reported: pd.DataFrame) -> pd.DataFrame:
    """Display headers of :func:`reported_frame`."""
    renamed = reported.rename(columns={"psnr": "PSNR (dB)", "ssim": "SSIM", "params_k": "params (K)",
                                       "macs_g": "MACs (G)", "published_macs": "MACs as published (G)"})  # fmt: skip
    return renamed[REPORTED_COLUMNS].reset_index(drop=True)
