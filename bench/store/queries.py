"""Read-only queries for the leaderboard's submission page (exposed as :class:`~bench.store.Store` methods).

* :func:`samples`: a run's stored crops, as :class:`~bench.samples.SampleCrops`, by position;
* :func:`run_detail`: one complete run: its Result JSON, submission, latencies, per-image scores
  and which samples it has (without their bytes);
* :func:`runs_of`: the complete runs of a submission, found by hash (or a prefix of it) or name.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.samples import SampleCrops
from bench.store.models import ImageScoreRow, LatencyRow, RunRow, SampleRow, SubmissionRow

SUBMISSION_FIELDS = ("name", "team", "sha256", "format", "architecture", "precision", "tags", "created_at")
LATENCY_FIELDS = ("device", "backend", "precision", "threads", "input_shape", "median_ms", "p90_ms", "mean_ms", "cv",
                  "runs", "stable", "spread", "kind")  # fmt: skip
MIN_HASH_PREFIX = 8  # the board shows 12 hex digits; shorter prefixes are too ambiguous to look up


def samples(engine: Engine, run_id: int) -> list[SampleCrops]:
    """The crops stored for run ``run_id``, ordered by position (empty for a run stored whole)."""
    query = select(SampleRow).where(SampleRow.run_id == run_id).order_by(SampleRow.position)
    with Session(engine) as session:
        return [
            SampleCrops(image_id=r.image_id, position=r.position, box=(r.box[0], r.box[1], r.box[2], r.box[3]),
                        input_png=r.input_png, output_png=r.output_png, target_png=r.target_png)
            for r in session.scalars(query)
        ]  # fmt: skip


def run_detail(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """Everything the submission page shows about complete run ``run_id`` (``None``: no such complete run).

    Keys: ``run_id``, ``key``, ``task``, ``task_version``, ``started_at``, ``finished_at``, ``result``
    (the stored Result JSON), ``submission`` (:data:`SUBMISSION_FIELDS`), ``latencies`` (one dict of
    :data:`LATENCY_FIELDS` per device, in measuring order), ``images`` (``position``, ``id``,
    ``psnr``, ``ssim``, ``lpips``, by position) and ``samples`` (``position``, ``image_id``, ``box``
    of each stored crop; the PNGs come from :func:`samples`).
    """
    with Session(engine) as session:
        run = session.get(RunRow, run_id)
        if run is None or run.status != "complete":
            return None
        images = session.scalars(
            select(ImageScoreRow).where(ImageScoreRow.run_id == run_id).order_by(ImageScoreRow.position)
        )
        latencies = session.scalars(select(LatencyRow).where(LatencyRow.run_id == run_id).order_by(LatencyRow.id))
        crops = session.execute(
            select(SampleRow.position, SampleRow.image_id, SampleRow.box)
            .where(SampleRow.run_id == run_id)
            .order_by(SampleRow.position)
        )
        return {
            "run_id": run.id, "key": run.key, "task": run.task, "task_version": run.task_version,
            "started_at": run.started_at, "finished_at": run.finished_at, "result": run.result,
            "submission": {field: getattr(run.submission, field) for field in SUBMISSION_FIELDS},
            "latencies": [{field: getattr(lat, field) for field in LATENCY_FIELDS} for lat in latencies],
            "images": [{"position": i.position, "id": i.image_id, "psnr": i.psnr, "ssim": i.ssim, "lpips": i.lpips,
                        **(i.extra or {})} for i in images],
            "samples": [{"position": p, "image_id": i, "box": list(b)} for p, i, b in crops],
        }  # fmt: skip


def runs_of(engine: Engine, submission: str) -> list[dict[str, Any]]:
    """Complete runs (newest first) of the submissions whose name is ``submission``, or whose sha256 is it
    or starts with it (a hex prefix of at least :data:`MIN_HASH_PREFIX` digits, as the board shows)."""
    match = [SubmissionRow.name == submission]
    if re.fullmatch(r"[0-9a-fA-F]+", submission) and len(submission) >= MIN_HASH_PREFIX:
        match.append(SubmissionRow.sha256.startswith(submission.lower(), autoescape=True))
    query = (
        select(RunRow, SubmissionRow)
        .join(SubmissionRow, RunRow.submission_id == SubmissionRow.id)
        .where(RunRow.status == "complete", or_(*match))
        .order_by(RunRow.id.desc())
    )
    with Session(engine) as session:
        return [
            {"run_id": run.id, "task": run.task, "task_version": run.task_version, "finished_at": run.finished_at,
             "psnr": run.psnr, "ssim": run.ssim, "lpips": run.lpips, "name": sub.name, "sha256": sub.sha256}
            for run, sub in session.execute(query).all()
        ]  # fmt: skip
