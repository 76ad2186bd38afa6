"""``bench score-many``: score several submissions, each in its own worker, storing each result as it arrives.

The store is written here, in the parent process, one transaction per result: a submission that
fails stores nothing and does not stop the others. Exit status 0 if every submission was scored
and stored, 1 if some failed (each failure is printed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.cli.common import err, fail, out, result_table
from bench.data.sources import default_data_root
from bench.executors import EXECUTORS, Outcome, cpu_devices, get_executor, make_jobs
from bench.results import Result
from bench.runtime.protocol import QUICK, LatencySettings
from bench.store import Store, describe_url
from bench.tasks import get_task


def _record(outcome: Outcome, result_id: int | None, error: str | None) -> dict[str, Any]:
    return {
        "submission": outcome.job.submission,
        "task": outcome.job.task,
        "result_id": result_id,
        "error": error,
        "result": json.loads(outcome.result) if outcome.result is not None and error is None else None,
    }


def cmd_score_many(args: argparse.Namespace) -> int:
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
    settings = QUICK if args.quick else LatencySettings()
    jobs = make_jobs(args.submissions, task.id, args.device, data_root, settings, args.quality_device)
    store = Store(args.db)
    results: list[Result] = []
    records: list[dict[str, Any]] = []
    failures: list[str] = []
    out.print(
        f"scoring {len(jobs)} submission(s) on {task.id} with the {args.executor} executor, "
        f"{args.workers} worker(s); store: {describe_url(store.url)}",
        highlight=False,
    )
    with out.status(f"0/{len(jobs)} done") as status:
        for n, outcome in enumerate(executor.run(jobs), start=1):
            status.update(f"{n}/{len(jobs)} done")
            result_id, error = _store(store, outcome)
            records.append(_record(outcome, result_id, error))
            if error is None:
                result = outcome.parsed()
                results.append(result)
                out.print(
                    f"  stored result {result_id}: {escape(result.submission.name)} ({escape(outcome.job.submission)})"
                    f"  PSNR {result.metrics.psnr:.3f} dB  SSIM {result.metrics.ssim:.4f}",
                    highlight=False,
                )
            else:
                failures.append(outcome.job.submission)
                err.print(f"[bold red]failed:[/] {escape(outcome.job.submission)}: {escape(error)}", soft_wrap=True)
    if results:
        out.print(result_table(task.title, results))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2))
    out.print(f"{len(results)} stored, {len(failures)} failed", highlight=False)
    return 1 if failures else 0


def _store(store: Store, outcome: Outcome) -> tuple[int | None, str | None]:
    """``(result id, None)`` once stored, else ``(None, why)``; a store error fails only this result."""
    if outcome.error is not None or outcome.result is None:
        return None, outcome.error or "no result"
    try:
        return store.add(outcome.parsed()), None
    except Exception as exc:  # invalid result JSON, database errors: reported, the others go on
        return None, f"not stored: {type(exc).__name__}: {exc}"


def add_parser(sub: Any) -> None:
    many = sub.add_parser(
        "score-many",
        help="score several submissions on one task, each in its own worker process, storing each result",
        description="Score several submissions on one task, each in its own worker process; each result is "
        "stored as it arrives (one transaction each), and a failing submission does not stop the others. "
        "More than one worker measures latency under contention.",
    )
    many.add_argument("submissions", nargs="+", metavar="SUBMISSION_DIR", help="submission folders")
    many.add_argument("--task", required=True)
    many.add_argument("--device", action="append", help="latency device id (repeatable; default: the quality device)")
    many.add_argument(
        "--quality-device", help="device that runs the test set (default: the format's own: torch, onnxruntime, tflite)"
    )
    many.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    many.add_argument("--db", help="store URL or SQLite path (default $BENCH_DB or ~/.local/share/bench/results.db)")
    many.add_argument("--executor", choices=sorted(EXECUTORS), default="local", help="where workers run")
    many.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parallel workers (default 1; more measure latency under contention: CPU cores are shared)",
    )
    many.add_argument("--quick", action="store_true", help="shorter latency protocol (10 runs, 0.5 s)")
    many.add_argument("--json", help="write every outcome (result JSON or error, result id) to this file")
    many.set_defaults(func=cmd_score_many)
