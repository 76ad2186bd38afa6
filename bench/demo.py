"""``bench demo``: every demo task scored with the baselines that declare it, on embedded data.

Runs on a fresh install with no download and no data root: the demo tasks read the images
shipped in ``bench/data/embedded``; the baselines are the folders in ``submissions/baselines``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.paths import SUBMISSIONS_DIR
from bench.plan import make_plan
from bench.recording import record_run
from bench.results import Result
from bench.runtime.protocol import QUICK, LatencySettings
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
    """Every submission folder under ``root`` (by default the parameter-free baselines)."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"baseline submissions not found at {root} (install bench from its checkout: pip install -e .)"
        )
    return [load_submission(p.parent) for p in sorted(root.glob(f"*/{MANIFEST}"))]


def demo_plan(references: bool = False) -> list[tuple[Task, Submission]]:
    """(task, submission) pairs the demo scores: each demo task with each baseline declaring it, and
    with ``references`` also each trained reference (``submissions/reference``) and each optimised model
    (``submissions/optimized``: pruned, quantised, searched) declaring it."""
    submissions = baseline_submissions()
    if references:
        submissions += baseline_submissions(SUBMISSIONS_DIR / "reference")
        submissions += baseline_submissions(SUBMISSIONS_DIR / "optimized")
    return [(t, s) for t in all_tasks().values() if t.demo for s in submissions if s.manifest.declares(t.id)]


def demo_device(submission: Submission) -> str:
    """Where the demo runs ``submission``: ``cpu-torch``, or for a quantised one the TFLite profile of its precision."""
    return submission.default_device if submission.quantized else "cpu-torch"


def run_demo(
    store: Store,
    latency: LatencySettings = QUICK,
    on_start: Callable[[Task, Submission], None] | None = None,
    references: bool = False,
) -> Iterator[DemoRun]:
    """Score and store every pair of :func:`demo_plan` on ``cpu-torch`` (a quantised submission on the TFLite
    profile of its precision, where its deployed model runs), yielding each run as it finishes."""
    for task, submission in demo_plan(references):
        if on_start:
            on_start(task, submission)
        plan = make_plan(submission, task, (demo_device(submission),), latency=latency, data_root=None)
        recorded = record_run(plan, store)
        assert recorded.result_id is not None
        yield DemoRun(task, submission, recorded.result, recorded.result_id)
