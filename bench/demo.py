"""``bench demo``: every demo task scored with the baselines that declare it, on embedded data.

Runs on a fresh install with no download and no data root: the demo tasks read the images
shipped in ``bench/data/embedded``; the baselines are the folders in ``submissions/baselines``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.paths import SUBMISSIONS_DIR
from bench.results import Result
from bench.runtime.protocol import QUICK, LatencySettings
from bench.scoring import evaluate, plan_key, result_info
from bench.store import Store
from bench.submission import MANIFEST, Submission, load_submission
from bench.tasks import Task, all_tasks


@dataclass(frozen=True)
class DemoRun:
    task: Task
    submission: Submission
    result: Result
    result_id: int


def baseline_submissions(root: Path = SUBMISSIONS_DIR / "baselines") -> list[Submission]:
    """Every submission folder under ``root``."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"baseline submissions not found at {root} (install bench from its checkout: pip install -e .)"
        )
    return [load_submission(p.parent) for p in sorted(root.glob(f"*/{MANIFEST}"))]


def demo_plan() -> list[tuple[Task, Submission]]:
    """(task, submission) pairs the demo scores: each demo task with each baseline declaring it."""
    baselines = baseline_submissions()
    return [(t, s) for t in all_tasks().values() if t.demo for s in baselines if s.manifest.declares(t.id)]


def run_demo(
    store: Store,
    latency: LatencySettings = QUICK,
    on_start: Callable[[Task, Submission], None] | None = None,
) -> Iterator[DemoRun]:
    """Score and store every pair of :func:`demo_plan`, yielding each run as it finishes."""
    for task, submission in demo_plan():
        if on_start:
            on_start(task, submission)
        devices = ("cpu-torch",)
        key = plan_key(submission, task, devices, None, latency, None)
        handle = store.run(key, result_info(submission), task.id, task.version, resume=True)
        if handle.complete_id is not None:  # scored by an earlier demo into this store
            detail = store.run_detail(handle.complete_id)
            assert detail is not None
            yield DemoRun(task, submission, Result.model_validate(detail["result"]), handle.complete_id)
            continue
        # through the run handle, so each image's scores and sample crops are stored as they come
        result = evaluate(submission, task, devices=devices, data_root=None, latency=latency, checkpoint=handle)
        yield DemoRun(task, submission, result, handle.finish(result))
