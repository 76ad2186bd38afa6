"""One road for a submission to the service, from the CLI (``bench submit``) or the board's Submit page.

The checks are cheap and run nothing of the model: the team's token, the folder (manifest, files, sizes,
hash: :func:`bench.submission.load_submission`), the manifest's team is the token's team, the project's
reserved names (:mod:`bench.reserved`), each task exists and is declared; then the files go into the
store and one job per task is queued (:func:`bench.service.queue.enqueue`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.errors import ServiceError
from bench.plan import check_declared
from bench.reserved import check_identity
from bench.service.queue import enqueue
from bench.service.teams import team_of
from bench.store import Store
from bench.submission import load_submission
from bench.tasks import get_task


@dataclass(frozen=True)
class Queued:
    """A job of a submission: its id, its task, and whether it is new (else the same job was already there)."""

    job_id: int
    task: str
    new: bool
    name: str


def submit(
    store: Store,
    token: str | None,
    folder: Path,
    tasks: list[str],
    devices: list[str] | None = None,
    quick: bool = False,
) -> list[Queued]:
    """Check ``folder`` and queue one job per task (see the module docstring); user errors on refusal."""
    team = team_of(store, token)
    submission = load_submission(folder)
    manifest = submission.manifest
    if manifest.team != team.name:
        raise ServiceError(
            f"submission {folder} names team {manifest.team!r}, but the token is team {team.name!r}'s; "
            f"set team: {team.name} in submission.yaml"
        )
    check_identity(submission.folder, manifest.name, manifest.team, manifest.tags)
    if not tasks:
        raise ServiceError("choose at least one task")
    resolved = [get_task(t) for t in tasks]
    for task in resolved:
        check_declared(submission, task)
    jobs = enqueue(store, team, submission, [t.id for t in resolved], devices or None, quick)
    return [Queued(job_id, task.id, new, manifest.name) for (job_id, new), task in zip(jobs, resolved, strict=True)]
