"""The ``bench`` command line: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from bench import __version__
from bench.challenges.tracks import TrackError
from bench.cli import challenge as challenge_commands
from bench.cli import data as data_commands
from bench.cli import export as export_commands
from bench.cli import many as many_commands
from bench.cli import optimize as optimize_commands
from bench.cli import runtime as runtime_commands
from bench.cli import train as train_commands
from bench.cli.common import err, fail, out, result_table
from bench.data.cache import default_cache_root
from bench.data.download import DownloadError
from bench.data.images import ImageReadError
from bench.data.pipeline import data_folder
from bench.data.sources import DataNotFound, default_data_root
from bench.paths import BOARD_APP
from bench.registry import UnknownName
from bench.runtime.backends import BackendUnavailable, ConversionError
from bench.runtime.protocol import QUICK, LatencySettings
from bench.scoring import Limits, ScoringError, check_declared, evaluate, plan_key, result_info
from bench.store import RunInProgress, Store, StoreSchemaError, describe_url
from bench.submission import SubmissionError, load_submission
from bench.tasks import TaskError, all_tasks, get_task
from bench.validation import check_task


def cmd_tasks(args: argparse.Namespace) -> int:
    if args.action == "show":
        if not args.id:
            return fail("give a task id: bench tasks show ID")
        task = get_task(args.id)
        print(task.model_dump_json(indent=2))  # plain JSON: rich would re-wrap long strings
        return 0
    table = Table(title="Tasks", title_justify="left")
    for column in ("id", "kind", "version", "title", "data"):
        table.add_column(column)
    for task in all_tasks().values():
        if args.kind and task.kind != args.kind:
            continue
        data = f"{task.data.path}" + (" (embedded)" if task.data.embedded else "")
        table.add_row(task.id, task.kind, str(task.version), task.title, data)
    out.print(table)
    return 0


def _latency_settings(args: argparse.Namespace) -> LatencySettings:
    return QUICK if args.quick else LatencySettings()


def cmd_score(args: argparse.Namespace) -> int:
    task = get_task(args.task)
    submission = load_submission(args.submission)
    check_declared(submission, task)
    data_root = Path(args.data_root) if args.data_root else default_data_root()
    data_folder(task, data_root)  # missing data fails here, before anything is run or stored
    cache_root = None if args.cache is None else (Path(args.cache) if args.cache else default_cache_root())
    calibration = Path(args.calibration) if args.calibration else None
    settings = _latency_settings(args)
    key = plan_key(submission, task, args.device, args.quality_device, settings, calibration)
    # the probe checks come first: a broken model never reaches (or creates) the store
    failed = [f"{c.name} ({c.detail})" for c in check_task(submission, task) if not c.ok]
    if failed:
        return fail(f"submission {submission.folder} failed its checks on {task.id}: " + "; ".join(failed))
    store = Store(args.db)
    handle = store.run(key, result_info(submission), task.id, task.version, resume=args.resume or args.restart)
    if handle.complete_id is not None:
        out.print(f"already scored: result {handle.complete_id} in {describe_url(store.url)} has the same submission "
                  "hash, task version, devices and settings; nothing was run again", highlight=False)  # fmt: skip
        return 0
    if args.restart:
        handle.discard_unfinished()
    if handle.done:
        out.print(f"resuming run {handle.run_id}: {len(handle.done)} images already scored", highlight=False)
    try:
        with out.status(f"scoring {submission.manifest.name} on {task.id}") as status:
            result = evaluate(
                submission, task, devices=args.device, data_root=data_root, latency=settings,
                lpips_weights=args.lpips_alexnet, cache_root=cache_root, quality_device=args.quality_device,
                calibration=calibration, checkpoint=handle, limits=Limits(args.image_limit, args.run_limit),
                progress=lambda image_id, n: status.update(f"scoring: image {n} ({image_id})"),
            )  # fmt: skip
    except KeyboardInterrupt:
        err.print(f"interrupted: {len(handle.done)} images are saved; run the same command with --resume to go on")
        return 130
    except USER_ERRORS:
        handle.discard()  # a run that failed for good leaves nothing behind
        raise
    result_id = handle.finish(result)
    if args.json:
        Path(args.json).write_text(result.model_dump_json(indent=2))
    out.print(result_table(f"{task.title}", [result]))
    if result.metrics.lpips is None and task.metric.lpips:
        out.print(f"LPIPS: null ({result.metrics.lpips_note})", highlight=False, soft_wrap=True)
    out.print(f"stored as result {result_id} in {describe_url(store.url)}", highlight=False)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    submission = load_submission(args.submission)
    tasks = [t for t in all_tasks().values() if submission.manifest.declares(t.id)]
    if not tasks:
        return fail(f"submission {submission.folder} declares no known task ({', '.join(submission.manifest.tasks)})")
    table = Table(title=f"Validation of {submission.manifest.name} ({submission.sha256[:12]})", title_justify="left")
    for column in ("task", "check", "result", "detail"):
        table.add_column(column)
    failed = []
    for task in tasks:
        for check in check_task(submission, task):
            table.add_row(task.id, check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", escape(check.detail))
            if not check.ok:
                failed.append(f"{task.id}: {check.name} ({check.detail})")
    out.print(table)
    if failed:
        return fail(f"submission {submission.folder} failed {len(failed)} check(s): " + "; ".join(failed))
    out.print(f"ok: every check passed for {len(tasks)} task(s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bench.demo import run_demo

    store = Store(args.db)
    folders = "submissions/baselines" + (" and submissions/reference" if args.references else "")
    out.print(f"bench {__version__} demo: embedded data, submissions from {folders}, device cpu-torch")
    results = []
    with out.status("starting") as status:
        progress = lambda t, s: status.update(f"scoring {s.manifest.name} on {t.id}")  # noqa: E731
        for run in run_demo(store, on_start=progress, references=args.references):
            results.append(run.result)
            out.print(f"  done: {run.task.id} / {run.submission.manifest.name}  PSNR {run.result.metrics.psnr:.3f} dB")
    out.print(result_table("Demo results", results))
    notes = {r.metrics.lpips_note for r in results if r.metrics.lpips is None and r.metrics.lpips_note}
    for note in sorted(notes):
        out.print(f"LPIPS n/a: {note}", highlight=False, soft_wrap=True)
    where = describe_url(store.url)
    out.print(f"\nStored {len(results)} results in {where}", highlight=False)
    out.print(f"Open the leaderboard with:  bench board --db {where}", highlight=False)
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    app = BOARD_APP
    if not app.is_file():
        return fail(f"leaderboard app not found at {app} (install bench from its checkout: pip install -e .)")
    store = Store(args.db)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--db",
        store.url,
    ]
    out.print(
        f"leaderboard on http://localhost:{args.port}  (store: {describe_url(store.url)}; Ctrl-C stops it)",
        highlight=False,
    )
    sys.stdout.flush()
    # exec, not a child process: Ctrl-C and SIGTERM reach the server itself, and none is orphaned
    os.execv(sys.executable, command)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Benchmark suite for efficient image restoration.")
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    tasks = sub.add_parser("tasks", help="list tasks, or show one")
    tasks.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    tasks.add_argument("id", nargs="?")
    tasks.add_argument("--kind", choices=["sr", "deblur", "lowlight", "denoise", "inpaint"])
    tasks.set_defaults(func=cmd_tasks)

    score = sub.add_parser("score", help="validate, evaluate, measure and store a submission")
    score.add_argument("submission", help="submission folder (with submission.yaml)")
    score.add_argument("--task", required=True)
    score.add_argument("--device", action="append", help="latency device id (repeatable; default: the quality device)")
    score.add_argument(
        "--quality-device", help="device that runs the test set (default: the format's own: torch, onnxruntime, tflite)"
    )
    score.add_argument("--calibration", help="folder of training-side images for int8 calibration")
    score.add_argument("--resume", action="store_true", help="continue an interrupted run of the same submission")
    score.add_argument("--restart", action="store_true", help="discard an interrupted run and score from scratch")
    score.add_argument(
        "--image-limit", type=float, default=Limits.per_image_s, help="seconds per image (default %(default)s)"
    )
    score.add_argument(
        "--run-limit", type=float, default=Limits.total_s, help="seconds for the quality run (default %(default)s)"
    )
    score.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    score.add_argument("--db", help="store URL or SQLite path (default $BENCH_DB or ~/.local/share/bench/results.db)")
    score.add_argument("--json", help="also write the result JSON to this file")
    score.add_argument("--quick", action="store_true", help="shorter latency protocol (10 runs, 0.5 s)")
    score.add_argument("--lpips-alexnet", help="AlexNet weights for LPIPS (default: torch hub cache)")
    score.add_argument(
        "--cache",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="read samples through the datasets cache (default DIR: $BENCH_CACHE or ~/.cache/bench/datasets)",
    )
    score.set_defaults(func=cmd_score)

    validate = sub.add_parser("validate", help="check a submission without running the test set")
    validate.add_argument("submission")
    validate.set_defaults(func=cmd_validate)

    demo = sub.add_parser("demo", help="the whole flow on the embedded default data")
    demo.add_argument("--db", help="store URL or SQLite path")
    demo.add_argument("--references", action="store_true",
                      help="also score the trained reference models on the demo tasks (minutes on CPU)")  # fmt: skip
    demo.set_defaults(func=cmd_demo)

    board = sub.add_parser("board", help="start the Streamlit leaderboard")
    board.add_argument("--db", help="store URL or SQLite path")
    board.add_argument("--port", type=int, default=8501)
    board.set_defaults(func=cmd_board)

    data_commands.add_parser(sub)
    runtime_commands.add_parser(sub)
    many_commands.add_parser(sub)
    export_commands.add_parser(sub)
    optimize_commands.add_parser(sub)
    challenge_commands.add_parser(sub)
    train_commands.add_parser(sub)
    return parser


USER_ERRORS = (
    TrackError,
    StoreSchemaError,
    RunInProgress,
    BackendUnavailable,
    ConversionError,
    DownloadError,
    SubmissionError,
    TaskError,
    DataNotFound,
    ImageReadError,
    ScoringError,
    UnknownName,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted; nothing was stored for the unfinished run")
        return 130


if __name__ == "__main__":
    sys.exit(main())
