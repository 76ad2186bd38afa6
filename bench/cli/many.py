"""``bench score-many``: score several submissions, each in its own worker, each storing its own run.

Each worker takes the one road (:func:`bench.recording.record_run`) into the store, so its
per-image scores and sample crops are written as they come; a submission that fails stores
nothing and does not stop the others. Exit status 0 if every submission was scored
and stored, 1 if some failed (each failure is printed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from bench.cli.common import (
    add_limit_options,
    add_scoring_options,
    check_output,
    err,
    fail,
    latency_settings,
    limits_of,
    out,
    result_table,
    write_output,
)
from bench.results import Result

if TYPE_CHECKING:
    from bench.executors import Outcome

EXECUTOR_NAMES = ("local", "ray")  # bench.executors.EXECUTORS (a test keeps them equal)


def _record(outcome: Outcome) -> dict[str, Any]:
    return {
        "submission": outcome.job.submission,
        "task": outcome.job.task,
        "result_id": outcome.result_id,
        "error": outcome.error,
        "result": json.loads(outcome.result) if outcome.result is not None else None,
    }


def cmd_score_many(args: argparse.Namespace) -> int:
    from bench.data.sources import default_data_root
    from bench.executors import cpu_devices, get_executor, make_jobs
    from bench.store import Store, describe_url
    from bench.tasks import get_task

    check_output(args.json)

    if args.workers < 1:
        return fail(f"--workers must be at least 1, got {args.workers}")
    task = get_task(args.task)  # unknown task: a usage error before any worker starts
    executor = get_executor(args.executor, workers=args.workers)
    if args.workers > 1 and cpu_devices(args.device):
        err.print(
            f"[yellow]warning:[/] {args.workers} workers measure latency on this machine's CPU concurrently: "
            "the latencies are measured under contention (not comparable with sequential runs); "
            "quality metrics are unaffected. Use --workers 1 for leaderboard latencies.",
            highlight=False,
            soft_wrap=True,
        )
    data_root = Path(args.data_root) if args.data_root else default_data_root()
    store = Store(args.db)
    jobs = make_jobs(args.submissions, task.id, args.device, data_root, latency_settings(args.quick),
                     args.quality_device, db=store.url, limits=limits_of(args))  # fmt: skip
    results: list[Result] = []
    records: list[dict[str, Any]] = []
    failures: list[str] = []
    out.print(
        f"scoring {len(jobs)} submission(s) on {task.id} with the {args.executor} executor, "
        f"{args.workers} worker(s); store: {describe_url(store.url)}",
        highlight=False,
        markup=False,
    )
    with out.status(f"0/{len(jobs)} done") as status:
        for n, outcome in enumerate(executor.run(jobs), start=1):
            status.update(f"{n}/{len(jobs)} done")
            records.append(_record(outcome))
            if outcome.ok:
                result = outcome.parsed()
                results.append(result)
                out.print(
                    f"  stored result {outcome.result_id}: {result.submission.name} ({outcome.job.submission})"
                    f"  PSNR {result.metrics.psnr:.3f} dB  SSIM {result.metrics.ssim:.4f}",
                    highlight=False,
                    markup=False,
                )
            else:
                failures.append(outcome.job.submission)
                err.print(f"[bold red]failed:[/] {escape(outcome.job.submission)}: {escape(str(outcome.error))}",
                          soft_wrap=True)  # fmt: skip
    if results:
        out.print(result_table(task.title, results))
    if args.json:
        write_output(args.json, json.dumps(records, indent=2))
    out.print(f"{len(results)} stored, {len(failures)} failed", highlight=False)
    return 1 if failures else 0


def add_parser(sub: Any) -> None:
    many = sub.add_parser(
        "score-many",
        help="score several submissions on one task, each in its own worker process, storing each result",
        description="Score several submissions on one task, each in its own worker process; each result is "
        "stored as it arrives (one transaction each), and a failing submission does not stop the others. "
        "More than one worker measures latency under contention.",
    )
    many.add_argument("submissions", nargs="+", metavar="SUBMISSION_DIR", help="submission folders")
    add_scoring_options(many)
    many.add_argument("--executor", choices=EXECUTOR_NAMES, default="local", help="where workers run")
    many.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parallel workers (default 1; more measure latency under contention: CPU cores are shared)",
    )
    many.add_argument("--json", help="write every outcome (result JSON or error, result id) to this file")
    add_limit_options(many)
    many.set_defaults(func=cmd_score_many)
