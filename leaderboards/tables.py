"""The board's tables, shaped from a board frame (:mod:`leaderboards.frames`); no Streamlit here.

* :func:`newest_runs`: one entry per (submission, device): the newest run, unless every run is asked for;
* :func:`search`: the rows whose name, team or tags contain a text (case-insensitive);
* :func:`ranks`: the rank of each valid entry among the valid entries of its own device;
* :func:`task_table`: the task page's grid (rank first), with the columns the visitor picked;
* :func:`best_entries`, :func:`device_summary`: the overview's tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from bench.metrics.registry import METRICS
from leaderboards.frames import QUALITY, TABLE_COLUMNS

#: Task-table columns shown unless the visitor hides them (headers), and those shown only when picked.
OPTIONAL_COLUMNS = ["backend", "p90 (ms)", "latency kind", "precision", "tags", "date"]
ALWAYS_COLUMNS = ["rank", "submission", "device", "details"]


def newest_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run of each (submission file, task version, device): reruns of the same file on the same
    device (a rescoring, a second ``bench demo``) would otherwise be listed and ranked twice."""
    ordered = frame.sort_values("result_id", ascending=False, kind="stable")
    keys = ordered[["sha256", "task", "task_version", "device_label"]].astype(str)
    return ordered[~keys.duplicated()].sort_index()


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows whose submission name, team or tags contain ``text`` (case-insensitive; every word of it)."""
    words = text.lower().split()
    if not words:
        return frame
    haystack = frame["submission"].astype(str) + " " + frame["team"].astype(str) + " " + frame["tags"].astype(str)
    haystack = haystack.str.lower()
    keep = pd.Series(True, index=frame.index)
    for word in words:
        keep &= haystack.str.contains(word, regex=False)
    return frame[keep]


def ranks(frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms") -> pd.Series:
    """Each valid entry's rank among the valid entries of its own device label: best ``quality`` first,
    ties broken by the lower ``cost``; entries equal in both share a rank (1, 2, 2, 4). Invalid entries,
    and entries without a device, get none (<NA>): they are listed, never ranked."""
    axis = QUALITY[quality]
    out = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    usable = frame[frame["valid"] & frame["device_label"].notna() & frame[quality].notna()]
    sign = -1.0 if axis.higher_is_better else 1.0
    for _, group in usable.groupby("device_label", sort=False):
        keys = list(zip(sign * group[quality].to_numpy(float), group[cost].fillna(float("inf")).to_numpy(float),
                        strict=True))  # fmt: skip
        order = sorted(range(len(keys)), key=keys.__getitem__)
        values = [0] * len(keys)
        previous, rank = None, 0
        for position, index in enumerate(order, start=1):
            if keys[index] != previous:
                rank, previous = position, keys[index]
            values[index] = rank
        out.loc[group.index] = values
    return out


def task_table(
    frame: pd.DataFrame, quality: str = "psnr", cost: str = "median_ms", shown: Sequence[str] | None = None
) -> pd.DataFrame:
    """The task grid: best ``quality`` first, then cheapest ``cost``, with display headers and a ``rank``
    (:func:`ranks`). ``shown``: the optional columns to include (:data:`OPTIONAL_COLUMNS`; None: none);
    a metric column no entry has (LPIPS on a task without it) is left out rather than shown empty."""
    axis = QUALITY[quality]
    ordered = frame.assign(rank=ranks(frame, quality, cost)).sort_values(
        [quality, cost], ascending=[not axis.higher_is_better, True], kind="stable", na_position="last"
    )
    table = ordered[["rank", *TABLE_COLUMNS]].rename(columns=TABLE_COLUMNS).reset_index(drop=True)
    picked = set(shown or [])
    metric_titles = {metric.title for metric in METRICS.values()}
    keep = [
        column
        for column in table.columns
        if (column not in OPTIONAL_COLUMNS or column in picked)
        and not (column in metric_titles and table[column].isna().all() and column != METRICS[quality].title)
    ]
    return table[keep]


def best_entries(frame: pd.DataFrame, titles: Mapping[str, str]) -> pd.DataFrame:
    """The overview: for each (task, version, device), the valid entry with the best PSNR (ties: lower
    latency), with the number of entries and the fastest valid entry ("" where no entry is valid)."""
    columns = ["task", "title", "version", "device", "entries", "best", "PSNR (dB)", "median latency (ms)",
               "fastest", "fastest (ms)", "link"]  # fmt: skip
    records: list[dict[str, Any]] = []
    keyed = frame[frame["device_label"].notna()]
    for (task, version, device), group in keyed.groupby(["task", "task_version", "device_label"], sort=True):
        valid = group[group["valid"]]
        record: dict[str, Any] = {
            "task": task,
            "title": titles.get(str(task), "(not registered)"),
            "version": int(version),
            "device": device,
            "entries": len(group),
            "best": "",
            "fastest": "",
            "link": f"?page=task&task={task}&version={int(version)}&devices={device}",
        }
        if len(valid):
            best = valid.sort_values(["psnr", "median_ms"], ascending=[False, True], kind="stable").iloc[0]
            fastest = valid.sort_values(["median_ms", "psnr"], ascending=[True, False], kind="stable").iloc[0]
            record |= {
                "best": best["submission"],
                "PSNR (dB)": best["psnr"],
                "median latency (ms)": best["median_ms"],
                "fastest": fastest["submission"],
                "fastest (ms)": fastest["median_ms"],
            }
        records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def device_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per device label: backends, latency kind, entries, tasks."""
    columns = ["device", "latency kind", "backends", "entries", "tasks"]
    keyed = frame[frame["device_label"].notna()]
    records = [
        {
            "device": label,
            "latency kind": ", ".join(sorted({str(k) for k in group["latency_kind"]})),
            "backends": ", ".join(sorted({str(b) for b in group["backend"]})),
            "entries": len(group),
            "tasks": group["task"].nunique(),
        }
        for label, group in keyed.groupby("device_label", sort=True)
    ]
    return pd.DataFrame.from_records(records, columns=columns)


MAX_DERIVATION = 6  # steps followed up a derived-from chain


def _newest(frame: pd.DataFrame, name: str, task: str) -> pd.DataFrame:
    rows = frame[(frame["submission"] == name) & (frame["task"] == task)]
    return rows[rows["result_id"] == rows["result_id"].max()] if len(rows) else rows


def _percent(new: Any, old: Any) -> str:
    if new is None or old is None or pd.isna(new) or pd.isna(old) or float(old) == 0:
        return ""
    return f"{100.0 * (float(new) / float(old) - 1.0):+.1f} %"


def derivation_steps(frame: pd.DataFrame, store: Any, run_id: int, task: str, derived_from: str) -> pd.DataFrame:
    """The derived-from chain of run ``run_id`` on ``task``, one row per step (child <- parent): the change in
    PSNR (dB), MACs and params (%) and in median latency (%) on each device both were timed on, and a link to
    the parent's page. The parent of a step is the newest result of the submission named by ``derived_from``
    on the same task; the chain stops where a parent has no result there (or after MAX_DERIVATION steps).
    ``derived_from``: the run's own parent name (the caller has its result already); each further parent's
    name is read from the store."""
    records: list[dict[str, Any]] = []
    child = frame[frame["result_id"] == run_id]
    seen = {run_id}
    parent_name: str | None = derived_from
    while len(child) and len(records) < MAX_DERIVATION:
        parent = _newest(frame, parent_name, task) if parent_name else child.iloc[0:0]
        if parent.empty or int(parent["result_id"].iloc[0]) in seen:
            break
        a, b = child.iloc[0], parent.iloc[0]
        record: dict[str, Any] = {
            "model": a["submission"],
            "derived from": b["submission"],
            "PSNR change (dB)": float(a["psnr"]) - float(b["psnr"]),
            "MACs change": _percent(a["macs"], b["macs"]),
            "params change": _percent(a["params"], b["params"]),
        }
        timed = dict(zip(parent["device_label"], parent["median_ms"], strict=True))
        for device, median in zip(child["device_label"], child["median_ms"], strict=True):
            if device in timed and (change := _percent(median, timed[device])):
                record[f"{device} latency"] = change
        record["parent page"] = f"?page=submission&run={int(b['result_id'])}"
        records.append(record)
        seen.add(int(b["result_id"]))
        child = parent
        detail = store.run_detail(int(b["result_id"]))
        parent_name = ((detail or {}).get("result") or {}).get("submission", {}).get("derived_from")
    return pd.DataFrame.from_records(records)
