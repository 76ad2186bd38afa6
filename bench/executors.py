"""Executors: score many submissions, each in its own worker process, and yield outcomes as they finish.

A :class:`Job` is plain data (a submission folder, a task id, a settings dict), so it crosses
process boundaries cheaply and safely: each worker loads the submission and the task itself
(torch modules are never shipped between processes), takes the one road
(:func:`bench.recording.record_run`, into the store when the job names one) and sends back the
result as JSON. Any exception in a worker becomes an :class:`Outcome` with an error message; the
parent never crashes because one submission does.

``local``: a spawn-context :class:`~concurrent.futures.ProcessPoolExecutor` (torch and fork do not
mix). ``ray``: Ray tasks on the current Ray cluster, or on a local one started with
``num_cpus=workers`` (Ray is imported only when this executor is used).

Workers default to 1. With more, latency is measured *under contention*: the workers share the
machine's cores (and each pins itself to the *same* first cores during its measurement), so
latencies are pessimistic and not comparable with sequential runs. Quality metrics are unaffected.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.errors import USER_ERRORS
from bench.limits import Limits
from bench.registry import Registry
from bench.results import Result
from bench.runtime.protocol import LatencySettings


@dataclass(frozen=True)
class Job:
    """One scoring run: ``settings`` holds the plan's settings as plain data (devices, data_root, latency,
    quality_device) and ``db``, the store URL the worker records into (None: nothing is stored)."""

    submission: str
    task: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A finished job: ``result`` (the Result JSON) and, when stored, ``result_id``; or ``error`` (a
    one-paragraph message)."""

    job: Job
    result: str | None = None
    error: str | None = None
    result_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None

    def parsed(self) -> Result:
        if self.result is None:
            raise ValueError(f"job for {self.job.submission} failed: {self.error}")
        return Result.model_validate_json(self.result)


def make_jobs(
    submissions: Sequence[str | Path],
    task: str,
    devices: Sequence[str] | None = None,
    data_root: str | Path | None = None,
    latency: LatencySettings | None = None,
    quality_device: str | None = None,
    db: str | None = None,
    limits: Limits | None = None,
) -> list[Job]:
    """One job per submission folder, all with the same settings; paths made absolute (workers may run elsewhere).
    With ``db`` (a store URL), each worker records its run there through the one road."""
    settings: dict[str, Any] = {
        "db": db,
        "devices": list(devices) if devices else None,
        "data_root": str(Path(data_root).absolute()) if data_root is not None else None,
        "latency": latency.model_dump() if latency is not None else None,
        "quality_device": quality_device,
        "limits": limits.record() if limits is not None else None,
    }
    return [Job(str(Path(folder).absolute()), task, dict(settings)) for folder in submissions]


def score(job: Job) -> tuple[str, int | None]:
    """Load the submission and task named by ``job``, take the one road (into the job's store, if any),
    return ``(result JSON, result id or None)``."""
    from bench.plan import make_plan
    from bench.recording import record_run
    from bench.store import Store
    from bench.submission import load_submission
    from bench.tasks import get_task

    s = job.settings
    plan = make_plan(
        load_submission(job.submission),
        get_task(job.task),
        devices=s.get("devices"),
        quality_device=s.get("quality_device"),
        latency=LatencySettings(**s["latency"]) if s.get("latency") else None,
        data_root=Path(s["data_root"]) if s.get("data_root") else None,
        limits=Limits(**s["limits"]) if s.get("limits") else None,
    )
    recorded = record_run(plan, Store(s["db"]) if s.get("db") else None)
    return recorded.result.model_dump_json(), recorded.result_id


def run_job(job: Job) -> Outcome:
    """:func:`score` that never raises: user errors give their message, anything else its type name too."""
    try:
        result, result_id = score(job)
        return Outcome(job, result=result, result_id=result_id)
    except USER_ERRORS as exc:
        return Outcome(job, error=str(exc))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a worker must report, not take the parent down
        return _failure(job, exc)


Worker = Callable[[Job], Outcome]


class Executor(Protocol):
    def run(self, jobs: list[Job]) -> Iterator[Outcome]: ...


EXECUTORS = Registry[Callable[..., Executor]]("executor")


def get_executor(name: str, workers: int = 1, worker: Worker = run_job) -> Executor:
    """The executor ``name`` with ``workers`` parallel workers (:class:`UnknownName` lists the known ones)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return EXECUTORS[name](workers=workers, worker=worker)


def cpu_devices(devices: Sequence[str] | None) -> bool:
    """Whether latency would be measured on this machine's CPU (the default device of every format)."""
    return not devices or any(d.startswith("cpu") for d in devices)


def _failure(job: Job, exc: BaseException) -> Outcome:
    return Outcome(job, error=f"{type(exc).__name__}: {exc}")


def _collect(job: Job, future: Future[Outcome]) -> Outcome | None:
    """The future's outcome; ``None`` if its pool broke (a worker process died)."""
    try:
        return future.result()
    except BrokenProcessPool:
        return None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # e.g. a result that cannot be unpickled, SystemExit from a custom worker
        return _failure(job, exc)


@EXECUTORS.register("local")
class LocalExecutor:
    """Spawned worker processes on this machine. If a worker process dies (segfault, OOM kill), the jobs
    the broken pool lost are re-run one per fresh process, so only the culprit is reported as failed."""

    def __init__(self, workers: int = 1, worker: Worker = run_job) -> None:
        self.workers = workers
        self.worker = worker
        self.context = multiprocessing.get_context("spawn")

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=self.context)

    def run(self, jobs: list[Job]) -> Iterator[Outcome]:
        lost: list[Job] = []
        with self._pool(min(self.workers, max(1, len(jobs)))) as pool:
            pending: dict[Future[Outcome], Job] = {pool.submit(self.worker, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    outcome = _collect(job, future)
                    if outcome is None:
                        lost.append(job)
                    else:
                        yield outcome
        for job in lost:  # isolate: one job per fresh process, so a crash is attributed to its job
            with self._pool(1) as pool:
                outcome = _collect(job, pool.submit(self.worker, job))
            yield outcome or Outcome(job, error="worker process died (crashed or was killed) while scoring")


@EXECUTORS.register("ray")
class RayExecutor:
    """Ray tasks (one CPU each), gathered with ``ray.wait`` as they finish. Starts a local cluster with
    ``num_cpus=workers`` unless Ray is already initialised (then that cluster's size decides concurrency),
    and shuts down only a cluster it started."""

    def __init__(self, workers: int = 1, worker: Worker = run_job) -> None:
        self.workers = workers
        self.worker = worker

    def run(self, jobs: list[Job]) -> Iterator[Outcome]:
        import ray

        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=self.workers, include_dashboard=False)
        try:
            remote = ray.remote(num_cpus=1, max_retries=1)(self.worker)
            pending: dict[Any, Job] = {remote.remote(job): job for job in jobs}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as exc:  # RayTaskError, WorkerCrashedError, ...
                        outcome = _failure(job, exc)
                    yield outcome
        finally:
            if started:
                ray.shutdown()
