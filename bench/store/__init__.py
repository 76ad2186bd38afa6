"""The results store: SQLAlchemy over a SQLite file by default (WAL), any SQLAlchemy URL otherwise.

Scoring writes each image's scores as soon as they are computed (:class:`RunHandle`), so an
interrupted run (Ctrl-C, kill -9, power loss) resumes where it stopped, and a finished run with
the same key (submission hash, task version, devices, settings) is recognised, never duplicated.
The run row is created with the first image, so a submission that fails its checks or whose
data is missing leaves the store exactly as it was. The first few images also keep sample crops
(:mod:`bench.samples`), written with their scores; the submission page reads them, and the rest of
a run, through the queries of :mod:`bench.store.queries`.

SQLite: WAL journal, a 30 s busy timeout, and write transactions that take the write lock at
``BEGIN IMMEDIATE``, so concurrent writers queue instead of failing with "database is locked".
PostgreSQL (``postgresql+psycopg://...``): plain transactions; the schema comes from the Alembic
migrations in ``migrations/`` (applied on open, see :mod:`bench.store.migrate`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bench.errors import RunInProgress, StoreSchemaError
from bench.results import ImageResult, LatencyResult, Result, SubmissionInfo, key_of
from bench.store import queries
from bench.store.models import ImageScoreRow, LatencyRow, RunRow, SampleRow, SubmissionRow
from bench.store.url import DB_ENV, default_db_path, describe_url, resolve_db_url

if TYPE_CHECKING:
    from bench.samples import SampleCrops

__all__ = [
    "DB_ENV",
    "RunHandle",
    "RunInProgress",
    "Store",
    "StoreSchemaError",
    "default_db_path",
    "describe_url",
    "resolve_db_url",
]


_UPSERT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


_BUSY_TIMEOUT_S = 30.0


def _enable_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried: on a new database several connections switching at once
    can get "database is locked" at once, without SQLite's busy handler (its deadlock avoidance when
    two readers both escalate), so the busy timeout alone does not queue them (measured: 6 in 200
    trials of 8 threads)."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """Results database at ``url`` (created, or migrated, on first use)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_db_url(url)

    def open(self) -> Store:
        """Connect and migrate now (a store that cannot be opened fails here); returns the store."""
        self.engine  # noqa: B018
        return self

    @cached_property
    def engine(self) -> Engine:
        """The engine, made (and the schema migrated) on first use: naming a store writes nothing, so a
        command that fails before it stores anything leaves no database behind."""
        parsed = make_url(self.url)
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url)
        if sqlite:
            _sqlite_setup(engine)
        from bench.store.migrate import upgrade  # alembic, only when a store is opened

        upgrade(engine, self.url)
        return engine

    # -- writing -------------------------------------------------------------------------------
    def run(self, key: str, submission: SubmissionInfo, task: str, task_version: int, resume: bool) -> RunHandle:
        """A handle for the run ``key``: already complete, resumed, or new (see :class:`RunHandle`)."""
        return RunHandle(self, key, submission, task, task_version, resume)

    def add(self, result: Result) -> int:
        """Store a finished result in one transaction (a result with a known run key is not duplicated)."""
        key = key_of(result)
        handle = self.run(key, result.submission, result.task, result.task_version, resume=True)
        return handle.complete_id if handle.complete_id is not None else handle.finish(result)

    def add_latencies(self, sha256: str, task: str, measured: list[tuple[LatencyResult, dict[str, Any]]]) -> int:
        """Latencies measured on their own, joined to the submission's newest run of ``task``
        (:func:`bench.store.latencies.add_latencies`); returns that run's id."""
        from bench.store.latencies import add_latencies

        return add_latencies(self.engine, sha256, task, measured)

    def _submission(self, session: Session, info: SubmissionInfo) -> SubmissionRow:
        """The row of ``info``'s hash, inserted if new (``ON CONFLICT DO NOTHING``: concurrent writers on
        PostgreSQL may insert the same submission at once; SQLite writers are serialised anyway)."""
        query = select(SubmissionRow).where(SubmissionRow.sha256 == info.sha256)
        row = session.scalar(query)
        if row is None:
            values = dict(sha256=info.sha256, name=info.name, team=info.team, format=info.format,
                          architecture=info.architecture, precision=info.precision, tags=list(info.tags),
                          created_at=datetime.now(UTC))  # fmt: skip
            dialect = session.get_bind().dialect.name
            if dialect in _UPSERT:
                session.execute(_UPSERT[dialect](SubmissionRow).values(**values).on_conflict_do_nothing())
                row = session.scalars(query).one()
            else:
                row = SubmissionRow(**values)
                session.add(row)
        return row

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        """Number of complete runs."""
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count(RunRow.id)).where(RunRow.status == "complete")) or 0)

    def results(self, task: str | None = None) -> list[Result]:
        """Complete results (newest first), optionally of one task."""
        query = select(RunRow.result).where(RunRow.status == "complete").order_by(RunRow.id.desc())
        if task is not None:
            query = query.where(RunRow.task == task)
        with Session(self.engine) as session:
            return [Result.model_validate(raw) for raw in session.scalars(query)]

    def image_scores(self, run_id: int) -> list[ImageResult]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(ImageScoreRow).where(ImageScoreRow.run_id == run_id).order_by(ImageScoreRow.position)
            )
            return [ImageResult(id=r.image_id, psnr=r.psnr, ssim=r.ssim, lpips=r.lpips, extra=r.extra or {})
                    for r in rows]  # fmt: skip

    def samples(self, run_id: int) -> list[SampleCrops]:
        """The sample crops of run ``run_id``, ordered by position (none for a result stored whole)."""
        return queries.samples(self.engine, run_id)

    def run_detail(self, run_id: int) -> dict[str, Any] | None:
        """One complete run for the submission page (see :func:`bench.store.queries.run_detail`), or ``None``."""
        return queries.run_detail(self.engine, run_id)

    def runs_of(self, submission: str) -> list[dict[str, Any]]:
        """Complete runs (newest first) of a submission given by name, sha256 or a prefix of 8+ hex digits."""
        return queries.runs_of(self.engine, submission)

    def leaderboard_rows(self, task: str | None = None) -> list[dict[str, Any]]:
        """Flat rows for the board: one per (complete run, latency); see :mod:`bench.store.board_rows`."""
        from bench.store.board_rows import leaderboard_rows

        return leaderboard_rows(self.engine, task)


class RunHandle:
    """One run's checkpoint: the images already scored (``done``), and writers for new ones.

    * a complete run with this key exists: ``complete_id`` is its id (nothing to do);
    * an unfinished one exists: with ``resume`` its images are ``done``; without, :class:`RunInProgress`;
    * otherwise the run row is created when the first image is recorded.
    """

    def __init__(self, store: Store, key: str, submission: SubmissionInfo, task: str, version: int, resume: bool):
        self.store, self.key, self.submission, self.task, self.version = store, key, submission, task, version
        self.run_id: int | None = None
        self.complete_id: int | None = None
        self.done: dict[str, ImageResult] = {}
        with Session(store.engine) as session:
            row = session.scalar(select(RunRow).where(RunRow.key == key))
            if row is None:
                return
            if row.status == "complete":
                self.complete_id = row.id
                return
            if not resume:
                count = session.scalar(select(func.count(ImageScoreRow.id)).where(ImageScoreRow.run_id == row.id))
                raise RunInProgress(
                    f"an unfinished run of this submission on {task} exists (run {row.id}, {count} images scored, "
                    f"started {row.started_at:%Y-%m-%d %H:%M}); pass --resume to continue it, or --restart to discard "
                    "it and score from scratch (if another process is scoring it right now, wait for it)"
                )
            self.run_id = row.id
        self.done = {r.id: r for r in store.image_scores(self.run_id)}

    def discard_unfinished(self) -> None:
        """Delete an unfinished run with this key (``--restart``)."""
        with Session(self.store.engine) as session, session.begin():
            session.execute(delete(RunRow).where(RunRow.key == self.key, RunRow.status != "complete"))
        self.run_id, self.done = None, {}

    def record(self, position: int, image: ImageResult, sample: SampleCrops | None = None) -> None:
        """Write one image's scores now (creating the run row with the first one), and its ``sample``
        crops, if any, in the same transaction."""
        if sample is not None and (sample.image_id, sample.position) != (image.id, position):
            raise ValueError(
                f"sample of {sample.image_id!r} at {sample.position} recorded for {image.id!r} at {position}"
            )
        with Session(self.store.engine) as session, session.begin():
            if self.run_id is None:
                run = RunRow(
                    key=self.key, submission=self.store._submission(session, self.submission), task=self.task,
                    task_version=self.version, status="running", started_at=datetime.now(UTC),
                )  # fmt: skip
                session.add(run)
                try:
                    session.flush()
                except IntegrityError as exc:
                    raise RunInProgress(f"another process started this run (key {self.key[:12]}) meanwhile") from exc
                self.run_id = run.id
            session.add(ImageScoreRow(run_id=self.run_id, image_id=image.id, position=position, psnr=image.psnr,
                                      ssim=image.ssim, lpips=image.lpips, extra=image.extra or None))  # fmt: skip
            if sample is not None:
                session.add(SampleRow(run_id=self.run_id, image_id=image.id, position=position, box=list(sample.box),
                                      input_png=sample.input_png, output_png=sample.output_png,
                                      target_png=sample.target_png))  # fmt: skip
        self.done[image.id] = image

    def discard(self) -> None:
        """Remove this run's rows, and its submission's row when no other run uses it (a run that failed
        for good: nothing of it stays in the store)."""
        if self.run_id is not None:
            with Session(self.store.engine) as session, session.begin():
                owner = session.scalar(select(RunRow.submission_id).where(RunRow.id == self.run_id))
                session.execute(delete(RunRow).where(RunRow.id == self.run_id))
                others = session.scalar(select(func.count(RunRow.id)).where(RunRow.submission_id == owner))
                if owner is not None and not others:
                    session.execute(delete(SubmissionRow).where(SubmissionRow.id == owner))
            self.run_id = None

    def finish(self, result: Result) -> int:
        """Mark the run complete with its totals, latencies and full result; returns its id."""
        with Session(self.store.engine) as session, session.begin():
            run = session.get(RunRow, self.run_id) if self.run_id is not None else None
            if run is None:  # a result stored whole (no per-image checkpoints were written)
                run = RunRow(key=self.key, submission=self.store._submission(session, self.submission),
                             task=self.task, task_version=self.version, started_at=datetime.now(UTC))  # fmt: skip
                session.add(run)
                for position, image in enumerate(result.metrics.per_image):
                    run.images.append(ImageScoreRow(image_id=image.id, position=position, psnr=image.psnr,
                                                    ssim=image.ssim, lpips=image.lpips,
                                                    extra=image.extra or None))  # fmt: skip
            run.status, run.finished_at = "complete", datetime.now(UTC)
            run.psnr, run.ssim, run.lpips = result.metrics.psnr, result.metrics.ssim, result.metrics.lpips
            run.extra = dict(result.metrics.extra) or None
            run.macs, run.params = result.complexity.macs, result.complexity.params
            run.bench_version, run.git_commit = result.provenance.bench_version, result.provenance.git_commit
            run.result = json.loads(result.model_dump_json())
            for lat in result.latency:
                run.latencies.append(LatencyRow(
                    device=lat.device, backend=lat.backend, precision=lat.precision, threads=lat.threads,
                    input_shape=list(lat.input_shape), median_ms=lat.median_ms, p90_ms=lat.p90_ms,
                    mean_ms=lat.mean_ms, cv=lat.cv, runs=lat.runs, stable=lat.stable, spread=lat.spread,
                    kind=lat.kind,
                ))  # fmt: skip
            session.flush()
            self.run_id = self.complete_id = run.id
            return run.id
