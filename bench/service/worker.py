"""A worker: claims jobs from the store's queue and scores each through the one road, in the sandbox.

For each claimed job the worker writes the submitted folder from the store into its cache
(:func:`bench.service.artifacts.materialize`), plans the run (the job's task, devices and latency
protocol; the worker's limits, with ``job_timeout_s`` as the whole-run limit) and takes
:func:`bench.recording.record_run` with the probe first and ``resume``: a job whose previous worker died
continues that worker's unfinished run, and a run finished before (the same key) is reused, so a result
is never stored twice. A heartbeat thread marks the job alive every quarter lease while it runs. The
outcome is recorded as ``done`` (the result id) or ``failed`` (the user error's one paragraph); when
the job is no longer the worker's own by then (cancelled, or taken over after a stall), nothing is
recorded over its new state.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import USER_ERRORS
from bench.limits import Limits
from bench.service import queue
from bench.service.artifacts import materialize
from bench.store import Store

Report = Callable[[str], None]


@dataclass(frozen=True)
class WorkerSettings:
    """``lease_s``: a job without a heartbeat for this long is claimed again; ``max_attempts``: claims of a
    job before it fails; ``poll_s``: wait between empty claims; ``cache``: where submitted folders are
    written; ``data_root``: the data sets (None: embedded or $BENCH_DATA)."""

    limits: Limits = field(default_factory=Limits)
    lease_s: float = 60.0
    max_attempts: int = 3
    poll_s: float = 1.0
    cache: Path | None = None
    data_root: Path | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, store: Store, settings: WorkerSettings, name: str | None = None) -> None:
        self.store, self.settings, self.name = store, settings, name or worker_name()
        self.cache = settings.cache or Path.home() / ".cache" / "bench" / "submitted"

    def serve(self, max_jobs: int | None = None, idle_exit_s: float | None = None, report: Report | None = None) -> int:
        """Claim and run jobs until ``max_jobs`` are done or the queue stayed empty ``idle_exit_s``; the count."""
        done, idle_since = 0, time.monotonic()
        while max_jobs is None or done < max_jobs:
            job = queue.claim(self.store, self.name, self.settings.lease_s, self.settings.max_attempts)
            if job is None:
                if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                    break
                time.sleep(self.settings.poll_s)
                continue
            outcome = self.run(job)
            if report is not None:
                report(f"job {job.id} ({job.name} on {job.task}): {outcome}")
            done, idle_since = done + 1, time.monotonic()
        return done

    def run(self, job: queue.Job) -> str:
        """Score one claimed job and record its outcome; the outcome in words."""
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, stop), daemon=True)
        beat.start()
        try:
            result_id = self._score(job)
        except USER_ERRORS as exc:
            reason = str(exc)
            return "failed: " + reason if queue.fail(self.store, job.id, self.name, reason) else "no longer ours"
        except Exception as exc:  # never lose the worker to one job
            reason = f"the worker failed on this job: {type(exc).__name__}: {exc}"
            return "failed: " + reason if queue.fail(self.store, job.id, self.name, reason) else "no longer ours"
        finally:
            stop.set()
            beat.join()
        return (
            f"done: result {result_id}" if queue.finish(self.store, job.id, self.name, result_id) else "no longer ours"
        )

    def _score(self, job: queue.Job) -> int:
        from bench.plan import make_plan
        from bench.recording import record_run
        from bench.runtime.protocol import QUICK
        from bench.tasks import get_task

        submission = materialize(self.store, job.sha256, self.cache)
        plan = make_plan(submission, get_task(job.task), job.devices, latency=QUICK if job.quick else None,
                         data_root=self.settings.data_root, limits=self.settings.limits)  # fmt: skip
        recorded = record_run(plan, self.store, resume=True, probe_first=True)
        assert recorded.result_id is not None  # a run recorded into a store has an id
        return recorded.result_id

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.settings.lease_s / 4):
            try:
                if not queue.heartbeat(self.store, job_id, self.name):
                    return  # cancelled or taken over: the outcome will not be recorded
            except Exception:  # a store hiccup: try again at the next beat
                continue
