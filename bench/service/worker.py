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
_RAY_START = threading.Lock()


@dataclass(frozen=True)
class WorkerSettings:
    """``lease_s``: a job without a heartbeat for this long is claimed again; ``max_attempts``: claims of a
    job before it fails; ``poll_s``: wait between empty claims; ``cache``: where submitted folders are
    written; ``data_root``: the data sets (None: embedded or $BENCH_DATA); ``slots``: jobs run at once;
    ``executor``: where each job is scored, ``local`` (this process's sandboxed children) or ``ray`` (a Ray
    task on the cluster ``ray.init`` joins, which reads the submission from the store itself)."""

    limits: Limits = field(default_factory=Limits)
    lease_s: float = 60.0
    max_attempts: int = 3
    poll_s: float = 1.0
    cache: Path | None = None
    data_root: Path | None = None
    slots: int = 1
    executor: str = "local"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, store: Store, settings: WorkerSettings, name: str | None = None) -> None:
        self.store, self.settings, self.name = store, settings, name or worker_name()
        self.cache = settings.cache or Path.home() / ".cache" / "bench" / "submitted"
        self._started_ray = False

    def serve(self, max_jobs: int | None = None, idle_exit_s: float | None = None, report: Report | None = None) -> int:
        """Claim and run jobs (``slots`` at once) until ``max_jobs`` are done or the queue stayed empty
        ``idle_exit_s``; the number done."""
        lock, state = threading.Lock(), {"claimed": 0, "done": 0, "idle_since": time.monotonic()}

        def loop() -> None:
            while True:
                with lock:
                    if max_jobs is not None and state["claimed"] >= max_jobs:
                        return
                    job = queue.claim(self.store, self.name, self.settings.lease_s, self.settings.max_attempts)
                    if job is not None:
                        state["claimed"] += 1
                    elif idle_exit_s is not None and time.monotonic() - state["idle_since"] >= idle_exit_s:
                        return
                if job is None:
                    time.sleep(self.settings.poll_s)
                    continue
                outcome = self.run(job)
                if report is not None:
                    report(f"job {job.id} ({job.name} on {job.task}): {outcome}")
                with lock:
                    state["done"] += 1
                    state["idle_since"] = time.monotonic()

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, self.settings.slots))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self._started_ray:  # a cluster this worker started ends with it (one it joined stays)
            import ray

            ray.shutdown()
            self._started_ray = False
        return int(state["done"])

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
        if self.settings.executor == "ray":
            import ray

            with _RAY_START:  # the slots' threads start (or join) one cluster
                if not ray.is_initialized():
                    ray.init(include_dashboard=False)
                    self._started_ray = True
            remote = ray.remote(num_cpus=1, max_retries=0)(score_job)
            return int(ray.get(remote.remote(self.store.url, job, self.settings, self.cache)))
        return score_job(self.store.url, job, self.settings, self.cache)

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.settings.lease_s / 4):
            try:
                if not queue.heartbeat(self.store, job_id, self.name):
                    return  # cancelled or taken over: the outcome will not be recorded
            except Exception:  # a store hiccup: try again at the next beat
                continue


def score_job(url: str, job: queue.Job, settings: WorkerSettings, cache: Path) -> int:
    """Score one job into the store at ``url`` (here, or in a Ray task on any machine that reaches the store):
    the submitted folder written from the store under ``cache``, the one road with the probe first and
    ``resume``; the result id."""
    from bench.plan import make_plan
    from bench.recording import record_run
    from bench.runtime.protocol import QUICK
    from bench.tasks import get_task

    store = Store(url)
    submission = materialize(store, job.sha256, cache)
    plan = make_plan(submission, get_task(job.task), job.devices, latency=QUICK if job.quick else None,
                     data_root=settings.data_root, limits=settings.limits)  # fmt: skip
    recorded = record_run(plan, store, resume=True, probe_first=True)
    assert recorded.result_id is not None  # a run recorded into a store has an id
    return recorded.result_id
