"""``bench team``, ``bench submit``, ``bench worker`` and ``bench queue``: the submission service
(:mod:`bench.service`); parsing and printing only."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.cli.common import DB_HELP, add_limit_options, check_output, fail, limits_of, out, plain, write_output

TOKEN_HELP = "the team's token (default $BENCH_TOKEN; bench team create NAME prints one)"


def _token(args: argparse.Namespace) -> str | None:
    from bench.service.teams import TOKEN_ENV

    return args.token or os.environ.get(TOKEN_ENV)


def cmd_team(args: argparse.Namespace) -> int:
    from bench.service.teams import create_team
    from bench.store import Store

    token = create_team(Store(args.db), args.name)
    out.print(f"team {plain(args.name)} created; its token (shown once, keep it secret):", highlight=False)
    print(token)  # the last line, alone: scripts take it with tail -n 1
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from bench.service.submit import submit
    from bench.store import Store, describe_url

    store = Store(args.db)
    for job in submit(store, _token(args), Path(args.submission), args.task, args.device, args.quick):
        state = "queued" if job.new else "already submitted"
        out.print(f"job {job.job_id}: {plain(job.name)} on {job.task} ({state})", highlight=False)
    out.print(f"store: {describe_url(store.url)}; follow them with: bench queue", highlight=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bench.service.worker import Worker, WorkerSettings
    from bench.store import Store, describe_url

    store = Store(args.db).open()
    limits = limits_of(args)
    if args.job_timeout is not None:  # the whole-run limit under the service's name for it
        limits = dataclasses.replace(limits, total_s=args.job_timeout)
    settings = WorkerSettings(
        limits=limits, lease_s=args.lease, max_attempts=args.max_attempts, poll_s=args.poll,
        cache=Path(args.cache) if args.cache else None, data_root=Path(args.data_root) if args.data_root else None,
        slots=args.slots, executor=args.executor,
    )  # fmt: skip
    worker = Worker(store, settings)
    out.print(f"worker {worker.name} serving {describe_url(store.url)}", highlight=False)
    done = worker.serve(args.max_jobs, args.idle_exit, report=lambda line: out.print(plain(line), highlight=False))
    out.print(f"worker {worker.name} stops after {done} job(s)", highlight=False)
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from bench.service import queue
    from bench.service.teams import team_of
    from bench.store import Store

    store = Store(args.db)
    if args.action in ("cancel", "retry"):
        if args.id is None:
            return fail(f"give the job id: bench queue {args.action} ID")
        team = team_of(store, _token(args))
        (queue.cancel if args.action == "cancel" else queue.retry)(store, args.id, team)
        out.print(f"job {args.id}: {'cancelled' if args.action == 'cancel' else 'queued again'}", highlight=False)
        return 0
    check_output(args.json)
    jobs = queue.list_jobs(store)
    if args.json:
        write_output(args.json, json.dumps(jobs, indent=2, default=str))
    table = Table(title="Jobs (newest first)", title_justify="left")
    for column in ("id", "status", "team", "name", "task", "attempts", "created", "finished", "result", "reason"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        cells: list[Any] = [job["id"], job["status"], job["team"], job["name"], job["task"], job["attempts"],
                            _time(job["created_at"]), _time(job["finished_at"]), job["result_id"] or "",
                            job["error"] or ""]  # fmt: skip
        table.add_row(*(plain(str(c)) for c in cells))
    out.print(table)
    return 0


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def add_parser(sub: Any) -> None:
    team = sub.add_parser("team", help="create a submitter team and print its token")
    team.add_argument("action", choices=["create"])
    team.add_argument("name")
    team.add_argument("--db", help=DB_HELP)
    team.set_defaults(func=cmd_team)

    submit = sub.add_parser("submit", help="check a submission folder cheaply and queue it for the workers")
    submit.add_argument("submission", help="submission folder (with submission.yaml)")
    submit.add_argument("--task", action="append", required=True, help="task id (repeatable)")
    submit.add_argument("--device", action="append", help="latency device (repeatable; default the format's)")
    submit.add_argument("--quick", action="store_true", help="the short latency protocol")
    submit.add_argument("--token", help=TOKEN_HELP)
    submit.add_argument("--db", help=DB_HELP)
    submit.set_defaults(func=cmd_submit)

    worker = sub.add_parser("worker", help="score queued jobs from the store, in the sandbox")
    worker.add_argument("--db", help=DB_HELP)
    worker.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    worker.add_argument("--idle-exit", type=float, metavar="S", help="stop when the queue stays empty this long")
    worker.add_argument("--lease", type=float, default=60.0, metavar="S",
                        help="a job without a heartbeat this long is claimed again (default 60)")  # fmt: skip
    worker.add_argument("--max-attempts", type=int, default=3, help="claims of a job before it fails (default 3)")
    worker.add_argument("--poll", type=float, default=1.0, metavar="S", help="wait between empty claims")
    worker.add_argument("--job-timeout", type=float, metavar="S",
                        help="seconds one job may take in all (the whole-run limit; default 21600: 6 h)")  # fmt: skip
    worker.add_argument("--slots", type=int, default=1, help="jobs run at once (default 1)")
    worker.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="where each job is scored: here, or a Ray task on the cluster ray.init joins")  # fmt: skip
    worker.add_argument("--cache", help="where submitted folders are written (default ~/.cache/bench/submitted)")
    worker.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    add_limit_options(worker)
    worker.set_defaults(func=cmd_worker)

    queue = sub.add_parser("queue", help="the service's jobs; cancel or retry one of your team's")
    queue.add_argument("action", nargs="?", choices=["list", "cancel", "retry"], default="list")
    queue.add_argument("id", nargs="?", type=int)
    queue.add_argument("--token", help=TOKEN_HELP)
    queue.add_argument("--db", help=DB_HELP)
    queue.add_argument("--json", help="write the jobs as JSON to this file")
    queue.set_defaults(func=cmd_queue)
