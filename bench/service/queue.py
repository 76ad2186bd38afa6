"""The job queue in the store: enqueue, claim atomically, heartbeat, finish, and the owner's cancel and retry.

A job is ``queued`` -> ``running`` (a worker claimed it) -> ``done`` (with its result id) or ``failed``
(with a one-paragraph reason); ``cancelled`` by its owner. A claim is one write transaction that picks
the oldest claimable job and marks it: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` (concurrent
workers skip each other's row), on SQLite ``BEGIN IMMEDIATE`` (the store's write transactions
serialise). A ``running`` job whose heartbeat is older than the lease is claimable again (its worker
died); each claim counts an attempt, and a job whose workers died ``max_attempts`` times is failed.
Every update of a running job names its worker, so a worker whose job was taken over (or cancelled)
cannot overwrite the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bench.errors import ServiceError
from bench.service.teams import Team, claim_name
from bench.store import Store
from bench.store.models import JobRow, TeamRow

if TYPE_CHECKING:  # the submission module imports torch: the board's Queue page must not
    from bench.submission import Submission

STATUSES = ("queued", "running", "done", "failed", "cancelled")
OPEN = ("queued", "running", "done")  # a job in one of these is not enqueued again
JOB_FIELDS = ("id", "name", "sha256", "task", "devices", "quick", "status", "attempts", "worker", "created_at",
              "started_at", "finished_at", "result_id", "error")  # fmt: skip


@dataclass(frozen=True)
class Job:
    """A claimed job, as the worker needs it."""

    id: int
    sha256: str
    name: str
    task: str
    devices: list[str] | None
    quick: bool
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


def enqueue(
    store: Store, team: Team, submission: Submission, tasks: list[str], devices: list[str] | None, quick: bool
) -> list[tuple[int, bool]]:
    """One queued job per task (the submission's files copied into the store first); an identical job already
    queued, running or done is returned instead of a new one. Returns ``(job id, new)`` per task."""
    from bench.service.artifacts import put

    out: list[tuple[int, bool]] = []
    with Session(store.engine) as session, session.begin():
        claim_name(session, team, submission.manifest.name)
        put(session, submission)
        for task in tasks:
            same = select(JobRow.id).where(
                JobRow.sha256 == submission.sha256, JobRow.task == task, JobRow.status.in_(OPEN), JobRow.quick == quick
            )
            existing = [i for i, d in session.execute(same.add_columns(JobRow.devices)) if d == devices]
            if existing:
                out.append((existing[0], False))
                continue
            row = JobRow(team_id=team.id, sha256=submission.sha256, name=submission.manifest.name, task=task,
                         devices=devices, quick=quick, status="queued", attempts=0, created_at=_now())  # fmt: skip
            session.add(row)
            session.flush()
            out.append((row.id, True))
    return out


def claim(store: Store, worker: str, lease_s: float, max_attempts: int) -> Job | None:
    """Take the oldest queued job, or a running one whose heartbeat is older than ``lease_s``; None if none.
    A stale job already tried ``max_attempts`` times is failed instead of taken."""
    stale = _now() - timedelta(seconds=lease_s)
    claimable = or_(JobRow.status == "queued", (JobRow.status == "running") & (JobRow.heartbeat_at < stale))
    with Session(store.engine) as session, session.begin():
        while True:
            query = select(JobRow).where(claimable).order_by(JobRow.id).limit(1).with_for_update(skip_locked=True)
            row = session.scalar(query)
            if row is None:
                return None
            if row.attempts >= max_attempts:
                row.status, row.finished_at, row.worker = "failed", _now(), None
                row.error = (
                    f"its worker stopped answering (no heartbeat for {lease_s:g} s) on each of {row.attempts} "
                    "attempts; the job is not tried again (bench queue retry ID tries it once more)"
                )
                continue
            row.status, row.worker, row.attempts = "running", worker, row.attempts + 1
            row.heartbeat_at = row.started_at = _now()
            row.error = None
            return Job(row.id, row.sha256, row.name, row.task, row.devices, row.quick, row.attempts)


def _update_running(store: Store, job_id: int, worker: str, **values: Any) -> bool:
    """Update job ``job_id`` only while it is running under ``worker``; whether it was."""
    with Session(store.engine) as session, session.begin():
        done = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == "running")
            .values(**values)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


def heartbeat(store: Store, job_id: int, worker: str) -> bool:
    """Say the worker is alive; False when the job is no longer its own (cancelled or taken over)."""
    return _update_running(store, job_id, worker, heartbeat_at=_now())


def finish(store: Store, job_id: int, worker: str, result_id: int) -> bool:
    return _update_running(store, job_id, worker, status="done", result_id=result_id, finished_at=_now())


def fail(store: Store, job_id: int, worker: str, reason: str) -> bool:
    return _update_running(store, job_id, worker, status="failed", error=reason, finished_at=_now())


def list_jobs(store: Store, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest jobs first, with their team's name."""
    with Session(store.engine) as session:
        query = select(JobRow, TeamRow.name).join(TeamRow, JobRow.team_id == TeamRow.id)
        rows = session.execute(query.order_by(JobRow.id.desc()).limit(limit)).all()
    return [{"team": team, **{f: getattr(job, f) for f in JOB_FIELDS}} for job, team in rows]


def _owned(session: Session, job_id: int, team: Team) -> JobRow:
    row = session.get(JobRow, job_id, with_for_update=True)
    if row is None:
        raise ServiceError(f"there is no job {job_id}")
    if row.team_id != team.id:
        raise ServiceError(f"job {job_id} belongs to another team")
    return row


def cancel(store: Store, job_id: int, team: Team) -> None:
    """Cancel a queued or running job of ``team`` (a running one's worker stops at its next heartbeat)."""
    with Session(store.engine) as session, session.begin():
        row = _owned(session, job_id, team)
        if row.status not in ("queued", "running"):
            raise ServiceError(f"job {job_id} is {row.status}; only a queued or running job can be cancelled")
        row.status, row.finished_at, row.worker = "cancelled", _now(), None


def retry(store: Store, job_id: int, team: Team) -> None:
    """Queue a failed or cancelled job of ``team`` again, with its attempts reset."""
    with Session(store.engine) as session, session.begin():
        row = _owned(session, job_id, team)
        if row.status not in ("failed", "cancelled"):
            raise ServiceError(f"job {job_id} is {row.status}; only a failed or cancelled job can be retried")
        row.status, row.attempts, row.error, row.worker, row.finished_at = "queued", 0, None, None, None
