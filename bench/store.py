"""The results store: SQLAlchemy over a SQLite file by default, any SQLAlchemy URL otherwise.

Two tables: ``submissions`` (one row per distinct submission hash, with its manifest) and
``results`` (one row per scoring run: headline numbers in columns for querying, the whole
:class:`bench.results.Result` as JSON for provenance). Writes are single transactions, so a
failed run leaves the store as it was.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, create_engine, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from bench.results import Result

DB_ENV = "BENCH_DB"


class Base(DeclarativeBase):
    pass


class SubmissionRow(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(40))
    architecture: Mapped[str | None] = mapped_column(String(100))
    precision: Mapped[str] = mapped_column(String(10))
    tags: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    results: Mapped[list[ResultRow]] = relationship(back_populates="submission")


class ResultRow(Base):
    __tablename__ = "results"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    task: Mapped[str] = mapped_column(String(100), index=True)
    task_version: Mapped[int] = mapped_column(Integer)
    psnr: Mapped[float] = mapped_column(Float)
    ssim: Mapped[float] = mapped_column(Float)
    lpips: Mapped[float | None] = mapped_column(Float)
    macs: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[int | None] = mapped_column(Integer)
    bench_version: Mapped[str] = mapped_column(String(40))
    git_commit: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    submission: Mapped[SubmissionRow] = relationship(back_populates="results")


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/bench/results.db`` (``~/.local/share/bench/results.db``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bench" / "results.db"


def resolve_db_url(db: str | None = None) -> str:
    """``db`` (URL or file path), else ``$BENCH_DB``, else the default SQLite file."""
    value = db or os.environ.get(DB_ENV) or str(default_db_path())
    if "://" in value:
        return value
    path = Path(value).expanduser().resolve()
    return f"sqlite:///{path}"


def describe_url(url: str) -> str:
    """A printable form of a store URL (the file path for SQLite, the URL without password otherwise)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """Results database at ``url`` (created on first use)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_db_url(url)
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)

    def add(self, result: Result) -> int:
        """Store one result (and its submission, if new) in one transaction; returns the result id."""
        now = datetime.now(UTC)
        info = result.submission
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(SubmissionRow).where(SubmissionRow.sha256 == info.sha256))
            if row is None:
                row = SubmissionRow(
                    sha256=info.sha256,
                    name=info.name,
                    team=info.team,
                    format=info.format,
                    architecture=info.architecture,
                    precision=info.precision,
                    tags=list(info.tags),
                    created_at=now,
                )
                session.add(row)
            stored = ResultRow(
                submission=row,
                task=result.task,
                task_version=result.task_version,
                psnr=result.metrics.psnr,
                ssim=result.metrics.ssim,
                lpips=result.metrics.lpips,
                macs=result.complexity.macs,
                params=result.complexity.params,
                bench_version=result.provenance.bench_version,
                git_commit=result.provenance.git_commit,
                created_at=now,
                result=json.loads(result.model_dump_json()),
            )
            session.add(stored)
            session.flush()
            return stored.id

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count(ResultRow.id))) or 0)

    def results(self, task: str | None = None) -> list[Result]:
        """Stored results (newest first), optionally of one task."""
        query = select(ResultRow.result).order_by(ResultRow.id.desc())
        if task is not None:
            query = query.where(ResultRow.task == task)
        with Session(self.engine) as session:
            return [Result.model_validate(raw) for raw in session.scalars(query)]

    def leaderboard_rows(self, task: str | None = None) -> list[dict[str, Any]]:
        """Flat rows for the board: one per (result, measured device)."""
        query = (
            select(ResultRow, SubmissionRow)
            .join(SubmissionRow, ResultRow.submission_id == SubmissionRow.id)
            .order_by(ResultRow.id)
        )
        if task is not None:
            query = query.where(ResultRow.task == task)
        rows: list[dict[str, Any]] = []
        with Session(self.engine) as session:
            for result, submission in session.execute(query).all():
                base = {
                    "result_id": result.id,
                    "task": result.task,
                    "task_version": result.task_version,
                    "submission": submission.name,
                    "team": submission.team,
                    "sha256": submission.sha256[:12],
                    "tags": ", ".join(submission.tags),
                    "precision": submission.precision,
                    "psnr": result.psnr,
                    "ssim": result.ssim,
                    "lpips": result.lpips,
                    "macs": result.macs,
                    "params": result.params,
                    "created_at": result.created_at,
                }
                for latency in result.result.get("latency", []):
                    rows.append(
                        base
                        | {
                            "device": latency["device"],
                            "backend": latency["backend"],
                            "median_ms": latency["median_ms"],
                            "p90_ms": latency["p90_ms"],
                            "latency_kind": latency["kind"],
                        }
                    )
        return rows
