"""``bench score``, ``bench validate`` and ``bench demo``: parsing and printing; the scoring is the one
road (:func:`bench.recording.record_run`), imported when a command runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench import __version__
from bench.cli.common import (
    add_limit_options,
    add_scoring_options,
    check_output,
    device_notes,
    err,
    fail,
    latency_settings,
    limits_of,
    out,
    plain,
    reported_note,
    result_table,
    write_output,
)


def cmd_score(args: argparse.Namespace) -> int:
    from bench.data.cache import default_cache_root
    from bench.data.sources import default_data_root
    from bench.plan import make_plan
    from bench.recording import record_run
    from bench.store import RunHandle, Store, describe_url
    from bench.submission import load_submission
    from bench.tasks import get_task

    check_output(args.json)
    task = get_task(args.task)
    submission = load_submission(args.submission)
    cache_root = None if args.cache is None else (Path(args.cache) if args.cache else default_cache_root())
    plan = make_plan(
        submission, task, args.device, args.quality_device, latency_settings(args.quick),
        data_root=Path(args.data_root) if args.data_root else default_data_root(),
        calibration=Path(args.calibration) if args.calibration else None,
        lpips_weights=Path(args.lpips_alexnet) if args.lpips_alexnet else None, cache_root=cache_root,
        limits=limits_of(args),
    )  # fmt: skip
    store = Store(args.db)

    def resuming(handle: RunHandle) -> None:
        out.print(f"resuming run {handle.run_id}: {len(handle.done)} images already scored", highlight=False)

    try:
        with out.status(escape(f"scoring {submission.manifest.name} on {task.id}")) as status:
            recorded = record_run(
                plan, store, resume=args.resume, restart=args.restart, probe_first=True, on_resume=resuming,
                progress=lambda label, n: status.update(escape(f"scoring: {n} images done ({label})")),
            )  # fmt: skip
    except KeyboardInterrupt:
        err.print("interrupted: the images scored so far are saved; run the same command with --resume to go on")
        return 130
    result = recorded.result
    if args.json:  # the stored twin's result too
        write_output(args.json, result.model_dump_json(indent=2))
    if recorded.reused:
        out.print(f"already scored: result {recorded.result_id} in {describe_url(store.url)} has the same submission "
                  "hash, task version, devices and settings; nothing was run again", highlight=False)  # fmt: skip
        return 0
    out.print(result_table(f"{task.title}", [result]))
    for line in [*device_notes(result), reported_note(result)]:
        if line:
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if result.metrics.lpips is None and task.metric.lpips:
        out.print(f"LPIPS: null ({result.metrics.lpips_note})", highlight=False, soft_wrap=True)
    out.print(f"stored as result {recorded.result_id} in {describe_url(store.url)}", highlight=False)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from bench.sandbox import Sandbox
    from bench.submission import load_submission
    from bench.tasks import all_tasks

    submission = load_submission(args.submission)
    tasks = [t for t in all_tasks().values() if submission.manifest.declares(t.id)]
    if not tasks:
        return fail(f"submission {submission.folder} declares no known task ({', '.join(submission.manifest.tasks)})")
    title = f"Validation of {submission.manifest.name} ({submission.sha256[:12]})"
    table = Table(title=plain(title), title_justify="left")
    for column in ("task", "check", "result", "detail"):
        table.add_column(column)
    failed = []
    with Sandbox(None, submission) as child:  # the model runs only in the sandboxed child
        child.start(probe=False, record=False, done={}, tasks=[t.id for t in tasks])
        checks = child.checks()
    by_task = {t.id: [c for c in checks if c.task == t.id] for t in tasks}
    for task in tasks:
        for check in by_task[task.id]:
            table.add_row(task.id, check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", plain(check.detail))
            if not check.ok:
                failed.append(f"{task.id}: {check.name} ({check.detail})")
    out.print(table)
    if failed:
        return fail(f"submission {submission.folder} failed {len(failed)} check(s): " + "; ".join(failed))
    out.print(f"ok: every check passed for {len(tasks)} task(s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bench.demo import run_demo
    from bench.store import Store, describe_url

    store = Store(args.db)
    folders = "submissions/baselines" + (" and submissions/reference" if args.references else "")
    out.print(f"bench {__version__} demo: embedded data, submissions from {folders}, device cpu-torch")
    results = []
    with out.status("starting") as status:
        progress = lambda t, s: status.update(escape(f"scoring {s.manifest.name} on {t.id}"))  # noqa: E731
        for run in run_demo(store, on_start=progress, references=args.references):
            results.append(run.result)
            line = f"  done: {run.task.id} / {run.submission.manifest.name}  PSNR {run.result.metrics.psnr:.3f} dB"
            out.print(line, highlight=False, markup=False)
    out.print(result_table("Demo results", results))
    notes = {r.metrics.lpips_note for r in results if r.metrics.lpips is None and r.metrics.lpips_note}
    for note in sorted(notes):
        out.print(f"LPIPS n/a: {note}", highlight=False, soft_wrap=True)
    where = describe_url(store.url)
    out.print(f"\nStored {len(results)} results in {where}", highlight=False)
    out.print(f"Open the leaderboard with:  bench board --db {where}", highlight=False)
    return 0


def add_parser(sub: Any) -> None:
    score = sub.add_parser("score", help="validate, evaluate, measure and store a submission")
    score.add_argument("submission", help="submission folder (with submission.yaml)")
    add_scoring_options(score)
    score.add_argument("--calibration", help="folder of training-side images for int8 calibration")
    score.add_argument("--resume", action="store_true", help="continue an interrupted run of the same submission")
    score.add_argument("--restart", action="store_true", help="discard an interrupted run and score from scratch")
    add_limit_options(score)
    score.add_argument("--json", help="also write the result JSON to this file")
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
                      help="also score the trained references and optimised models on the demo tasks")  # fmt: skip
    demo.set_defaults(func=cmd_demo)
