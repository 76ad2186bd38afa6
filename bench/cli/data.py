"""``bench data check`` and ``bench data download``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from bench.cli.common import fail, out

MAX_PROBLEMS_SHOWN = 25


def cmd_check(args: argparse.Namespace) -> int:
    from bench.data.check import check_task
    from bench.data.sources import default_data_root
    from bench.tasks import get_task

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


def cmd_list(args: argparse.Namespace) -> int:
    from bench.data.download import load_catalog

    table = Table(title="Data sets bench can download (or explain how to get)", title_justify="left")
    for column in ("name", "how", "unpacks to", "tasks", "sha256"):
        table.add_column(column)
    for entry in load_catalog(args.catalog).values():
        recorded = sum(1 for f in entry.files if f.sha256)
        table.add_row(
            entry.name,
            "manual (see instructions)" if entry.manual else f"{len(entry.files)} file(s)",
            f"<data-root>/{entry.extract_to}",
            ", ".join(entry.tasks) or "-",
            "-" if entry.manual else f"{recorded}/{len(entry.files)} recorded",
        )
    out.print(table)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from bench.data.download import (
        DownloadError,
        ManualDownloadRequired,
        UnsafeArchive,
        fetch_dataset,
        get_entry,
        load_catalog,
    )
    from bench.data.sources import default_data_root

    data_root = Path(args.data_root) if args.data_root else default_data_root()
    if data_root is None:
        return fail("give --data-root DIR (or set $BENCH_DATA): the folder that will hold the data set")
    catalog = load_catalog(args.catalog)
    get_entry(args.name, catalog)  # an unknown name fails before the progress display starts
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        try:
            folder = fetch_dataset(
                args.name, data_root, catalog, progress=progress, notify=lambda m: out.print(escape(m))
            )
        except ManualDownloadRequired as exc:
            out.print(escape(str(exc)), highlight=False, soft_wrap=True)
            return 1
        except (DownloadError, UnsafeArchive) as exc:
            return fail(str(exc))
    out.print(f"{args.name}: ready in {escape(str(folder))}")
    return 0


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="check or download data sets")
    actions = data.add_subparsers(dest="data_command", required=True)
    check = actions.add_parser("check", help="is a task's data set present, complete and readable?")
    check.add_argument("task", nargs="+", help="task id(s)")
    check.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    check.set_defaults(func=cmd_check)
    listing = actions.add_parser("list", help="data sets with a download entry")
    listing.add_argument("--catalog", help="catalog YAML (default: the one shipped with bench)")
    listing.set_defaults(func=cmd_list)
    download = actions.add_parser("download", help="download, verify and unpack a data set (resumable)")
    download.add_argument("name", help="catalog name (bench data list)")
    download.add_argument("--data-root", help="where to unpack (default $BENCH_DATA)")
    download.add_argument("--catalog", help="catalog YAML (default: the one shipped with bench), e.g. for a mirror")
    download.set_defaults(func=cmd_download)
