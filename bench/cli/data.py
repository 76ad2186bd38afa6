"""``bench data check`` and ``bench data download``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.cli.common import out
from bench.data.check import check_task
from bench.data.sources import default_data_root
from bench.tasks import get_task

MAX_PROBLEMS_SHOWN = 25


def cmd_check(args: argparse.Namespace) -> int:
    data_root = Path(args.data_root) if args.data_root else default_data_root()
    exit_code = 0
    for task_id in args.task:
        report = check_task(get_task(task_id), data_root)
        where = report.folder if report.folder is not None else "(not found)"
        out.print(f"[bold]{report.task}[/]: {escape(str(where))}")
        out.print(f"  expected layout: {escape(report.layout)}", highlight=False, soft_wrap=True)
        if report.complete:
            out.print(f"  [green]complete[/]: {report.samples} samples, every file present and readable")
            continue
        exit_code = 1
        out.print(f"  [red]incomplete[/]: {report.samples} samples indexed, {len(report.problems)} problems")
        for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
            out.print(f"  - {escape(str(problem))}", highlight=False, soft_wrap=True)
        if len(report.problems) > MAX_PROBLEMS_SHOWN:
            out.print(f"  ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more")
    return exit_code


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="check or download data sets")
    actions = data.add_subparsers(dest="data_command", required=True)
    check = actions.add_parser("check", help="is a task's data set present, complete and readable?")
    check.add_argument("task", nargs="+", help="task id(s)")
    check.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    check.set_defaults(func=cmd_check)
