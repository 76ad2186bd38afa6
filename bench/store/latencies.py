"""Latencies measured on their own (``bench latency --db``) joined to a submission's stored run.

A latency on the board belongs to a run: the quality of one submission on one task. So a measurement
made after scoring is added to the newest complete run of the same submission (same sha256) on that
task: a ``latencies`` row per device, and the run's stored result gains the measurement and the
backend's description. A measurement of the same device, threads and input shape replaces the earlier one
(the newer is the one a user asked for).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.errors import StoreError
from bench.results import LatencyResult
from bench.store.models import LatencyRow, RunRow, SubmissionRow


def add_latencies(engine: Engine, sha256: str, task: str, measured: list[tuple[LatencyResult, dict[str, Any]]]) -> int:
    """Add ``measured`` (latency, backend description) to the newest complete run of submission ``sha256`` on
    ``task``; returns the run id. Raises :class:`StoreError` when that submission has no run of the task."""
    with Session(engine) as session, session.begin():
        run = session.scalars(
            select(RunRow).join(SubmissionRow).where(SubmissionRow.sha256 == sha256, RunRow.task == task,
                                                     RunRow.status == "complete").order_by(RunRow.id.desc()).limit(1)
        ).first()  # fmt: skip
        if run is None:
            raise StoreError(
                f"the store has no scored run of this submission (sha256 {sha256[:12]}) on {task}: a latency on "
                f"the board sits beside a quality score, so score it first (bench score SUBMISSION --task {task} "
                "--db ...), then add devices with bench latency --db"
            )
        result = dict(run.result or {})
        latencies = list(result.get("latency", []))
        backends = dict(result.get("provenance", {}).get("backends", {}))
        for latency, description in measured:
            same = (latency.device, latency.threads, list(latency.input_shape))
            for row in [r for r in run.latencies if (r.device, r.threads, list(r.input_shape)) == same]:
                run.latencies.remove(row)
            latencies = [x for x in latencies if (x["device"], x["threads"], list(x["input_shape"])) != same]
            latencies.append(json.loads(latency.model_dump_json()))
            backends[latency.device] = description
            run.latencies.append(LatencyRow(
                device=latency.device, backend=latency.backend, precision=latency.precision,
                threads=latency.threads, input_shape=list(latency.input_shape), median_ms=latency.median_ms,
                p90_ms=latency.p90_ms, mean_ms=latency.mean_ms, cv=latency.cv, runs=latency.runs,
                stable=latency.stable,
                spread=latency.spread, kind=latency.kind,
            ))  # fmt: skip
        result["latency"] = latencies
        result["provenance"] = dict(result.get("provenance", {})) | {"backends": backends}
        run.result = result
        session.flush()
        return int(run.id)
