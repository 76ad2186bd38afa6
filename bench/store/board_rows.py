"""Flat rows for the leaderboard, read with one Core query (no ORM objects: 10,000 results in ~0.1 s).

One row per (complete run, latency); a complete run without any latency still gets one row, with
the latency fields ``None``, so the board can mark it instead of losing it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine

from bench.metrics.registry import BUILTIN, METRICS
from bench.store.models import LatencyRow, RunRow, SubmissionRow

#: The query's fields, in order; a row then has one column per further registered metric instead of
#: ``extra`` (:mod:`bench.metrics.registry`).
BOARD_FIELDS: tuple[str, ...] = (
    "result_id",
    "task",
    "task_version",
    "submission",
    "team",
    "sha256",
    "format",
    "architecture",
    "tags",
    "precision",
    "psnr",
    "ssim",
    "lpips",
    "extra",
    "macs",
    "params",
    "created_at",
    "device",
    "backend",
    "latency_precision",
    "threads",
    "input_shape",
    "median_ms",
    "p90_ms",
    "mean_ms",
    "cv",
    "stable",
    "spread",
    "latency_kind",
)


Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")


def complete_runs(query: Query, task: str | None = None) -> Query:
    """``query`` over complete runs only (of ``task``, when given), each joined to its submission."""
    query = query.join(SubmissionRow, RunRow.submission_id == SubmissionRow.id).where(RunRow.status == "complete")
    return query if task is None else query.where(RunRow.task == task)


def board_columns() -> tuple[str, ...]:
    """The keys of every board row, in order: the query's fields with ``extra`` spread into one column per
    further registered metric."""
    further = tuple(name for name in METRICS if name not in BUILTIN)
    at = BOARD_FIELDS.index("extra")
    return BOARD_FIELDS[:at] + further + BOARD_FIELDS[at + 1 :]


def leaderboard_rows(engine: Engine, task: str | None = None) -> list[dict[str, Any]]:
    """Board rows of every complete run (of ``task`` only, when given), ordered by run then latency id."""
    query = (
        select(
            RunRow.id,
            RunRow.task,
            RunRow.task_version,
            SubmissionRow.name,
            SubmissionRow.team,
            SubmissionRow.sha256,
            SubmissionRow.format,
            SubmissionRow.architecture,
            SubmissionRow.tags,
            SubmissionRow.precision,
            RunRow.psnr,
            RunRow.ssim,
            RunRow.lpips,
            RunRow.extra,
            RunRow.macs,
            RunRow.params,
            RunRow.finished_at,
            LatencyRow.device,
            LatencyRow.backend,
            LatencyRow.precision,
            LatencyRow.threads,
            LatencyRow.input_shape,
            LatencyRow.median_ms,
            LatencyRow.p90_ms,
            LatencyRow.mean_ms,
            LatencyRow.cv,
            LatencyRow.stable,
            LatencyRow.spread,
            LatencyRow.kind,
        )
        .outerjoin(LatencyRow, LatencyRow.run_id == RunRow.id)
        .order_by(RunRow.id, LatencyRow.id)
    )
    query = complete_runs(query, task)
    with engine.connect() as connection:
        fetched = [dict(zip(BOARD_FIELDS, values, strict=True)) for values in connection.execute(query)]
    columns, rows = board_columns(), []
    for raw in fetched:
        extra = raw.pop("extra") or {}
        row = {key: raw[key] if key in raw else extra.get(key) for key in columns}
        rows.append(row)
        row["sha256"] = str(row["sha256"])[:12]
        row["tags"] = ", ".join(row["tags"] or [])
        if row["input_shape"] is not None:
            row["input_shape"] = "x".join(str(v) for v in row["input_shape"])
    return rows


def store_version(engine: Engine) -> tuple[int, int]:
    """(number of complete runs, highest run id): changes whenever a result is added or removed,
    so the board can cache its frames on it."""
    query = select(func.count(RunRow.id), func.max(RunRow.id)).where(RunRow.status == "complete")
    with engine.connect() as connection:
        count, highest = connection.execute(query).one()
    return int(count or 0), int(highest or 0)
