"""Export the store as a flat table: CSV, JSON (a list of records) or Parquet.

Rows are those of :meth:`Store.leaderboard_rows` (one per complete run and measured device), or with
``per_image`` one per (complete run, image) with that image's scores. Times are UTC ISO 8601 strings
in CSV and JSON, timezone-aware timestamps in Parquet, whatever the backend stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.metrics.registry import BUILTIN, METRICS
from bench.store import Store
from bench.store.board_rows import complete_runs
from bench.store.models import ImageScoreRow, RunRow, SubmissionRow

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "json", "parquet")


def export_columns() -> list[str]:
    """Columns of the per-run export: one per registered metric (:mod:`bench.metrics.registry`)."""
    return ["result_id", "task", "task_version", "submission", "team", "sha256", "tags", "precision", *METRICS,
            "macs", "params", "created_at", "device", "backend", "median_ms", "p90_ms", "latency_kind"]  # fmt: skip


def image_columns() -> list[str]:
    """Columns of the per-image export: one per registered metric."""
    return ["result_id", "task", "task_version", "submission", "team", "sha256", "position", "image_id", *METRICS]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas: a cell starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (names and tags are a submitter's
    text; numbers stay numbers)."""
    import pandas as pd  # only when exporting: pandas costs ~0.2 s to import

    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = [f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in safe[column]]
    return safe


class ExportError(ValueError):
    """An export that cannot be written (unknown format)."""


def image_rows(store: Store, task: str | None = None) -> list[dict[str, Any]]:
    """One row per (complete run, image), in run then image order."""
    query = select(RunRow, SubmissionRow, ImageScoreRow).join(ImageScoreRow, ImageScoreRow.run_id == RunRow.id)
    query = complete_runs(query.order_by(RunRow.id, ImageScoreRow.position), task)
    with Session(store.engine) as session:
        return [_image_row(run, sub, image) for run, sub, image in session.execute(query).all()]


def _image_row(run: RunRow, sub: SubmissionRow, image: ImageScoreRow) -> dict[str, Any]:
    return {
        "result_id": run.id, "task": run.task, "task_version": run.task_version, "submission": sub.name,
        "team": sub.team, "sha256": sub.sha256[:12], "position": image.position, "image_id": image.image_id,
        "psnr": image.psnr, "ssim": image.ssim, "lpips": image.lpips,
        **{name: (image.extra or {}).get(name) for name in METRICS if name not in BUILTIN},
    }  # fmt: skip


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones: make both aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table(store: Store, task: str | None = None, per_image: bool = False) -> pd.DataFrame:
    """The export as a DataFrame (columns fixed, even when there are no rows)."""
    import pandas as pd  # only when exporting: pandas costs ~0.2 s to import

    if per_image:
        return pd.DataFrame(image_rows(store, task), columns=image_columns())
    rows = [row | {"created_at": _utc(row["created_at"])} for row in store.leaderboard_rows(task)]
    frame = pd.DataFrame(rows, columns=export_columns())
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    for column in ("macs", "params"):
        frame[column] = frame[column].astype("Int64")  # nullable integers, not floats with NaN
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:

    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="us"))
    return records


def write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` to ``path`` as ``fmt`` (csv, json or parquet)."""
    import pandas as pd  # only when exporting: pandas costs ~0.2 s to import

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, engine="pyarrow", index=False)
        return
    text = frame.copy()
    if "created_at" in text:
        text["created_at"] = text["created_at"].map(lambda t: None if pd.isna(t) else t.isoformat())
    if fmt == "csv":
        spreadsheet_safe(text).to_csv(path, index=False)
    else:
        path.write_text(json.dumps(_records(text), indent=1) + "\n")


def export(store: Store, path: Path, fmt: str, task: str | None = None, per_image: bool = False) -> int:
    """Write the store's rows (optionally of one task; per image with ``per_image``) to ``path``; returns the count."""
    frame = table(store, task, per_image)
    write(frame, path, fmt)
    return len(frame)


def format_of(path: Path, fmt: str | None) -> str:
    """``fmt``, else the format named by ``path``'s suffix."""
    chosen = fmt or path.suffix.lstrip(".").lower()
    if chosen not in FORMATS:
        raise ExportError(f"give --format ({', '.join(FORMATS)}): cannot tell it from the file name {path.name!r}")
    return chosen
