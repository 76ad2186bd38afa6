"""``bench export``: the store's results as CSV, JSON or Parquet (one row per complete run and device)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import DB_HELP, fail, out

FORMATS = ("csv", "json", "parquet")  # bench.store.export.FORMATS (a test keeps them equal)


def cmd_export(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from bench.store import Store, describe_url, resolve_db_url
    from bench.store.export import ExportError, export, format_of

    path = Path(args.out)
    try:
        fmt = format_of(path, args.format)
    except ExportError as exc:
        return fail(str(exc))
    url = resolve_db_url(args.db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return fail(f"no store at {parsed.database} (score something first, or pass --db)")  # never create one
    store = Store(url)
    count = export(store, path, fmt, task=args.task, per_image=args.per_image)
    what = "image rows" if args.per_image else "rows (run x device)"
    out.print(f"wrote {count} {what} from {describe_url(store.url)} to {path} ({fmt})", highlight=False)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("export", help="export stored results as CSV, JSON or Parquet")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from the --out suffix)")
    parser.add_argument("--task", help="only this task id")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("--per-image", action="store_true", help="one row per (run, image) with its scores instead")
    parser.set_defaults(func=cmd_export)
