"""The ``bench`` command line: argument parsing and printing only; the work is in the library.

Building the parser imports no torch, runtime or store: each command imports what it needs when
it runs, so ``bench --help`` and ``bench tasks`` start at once."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from bench import __version__
from bench.cli import challenge as challenge_commands
from bench.cli import data as data_commands
from bench.cli import export as export_commands
from bench.cli import many as many_commands
from bench.cli import optimize as optimize_commands
from bench.cli import runtime as runtime_commands
from bench.cli import score as score_commands
from bench.cli import service as service_commands
from bench.cli import train as train_commands
from bench.cli.common import err, fail, out
from bench.errors import USER_ERRORS


def cmd_tasks(args: argparse.Namespace) -> int:
    from bench.tasks import all_tasks, get_task

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
        table.add_row(*(escape(cell) for cell in (task.id, task.kind, str(task.version), task.title, data)))
    out.print(table)
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    from bench.paths import BOARD_APP
    from bench.store import Store, describe_url

    app = BOARD_APP
    if not app.is_file():
        return fail(f"leaderboard app not found at {app} (install bench from its checkout: pip install -e .)")
    store = Store(args.db).open()  # a store that cannot be opened fails here, not in the browser
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

    board = sub.add_parser("board", help="start the Streamlit leaderboard")
    board.add_argument("--db", help="store URL or SQLite path")
    board.add_argument("--port", type=int, default=8501)
    board.set_defaults(func=cmd_board)

    score_commands.add_parser(sub)
    data_commands.add_parser(sub)
    runtime_commands.add_parser(sub)
    many_commands.add_parser(sub)
    export_commands.add_parser(sub)
    optimize_commands.add_parser(sub)
    challenge_commands.add_parser(sub)
    train_commands.add_parser(sub)
    service_commands.add_parser(sub)
    return parser


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
