"""``bench challenge TRACK SUBMISSION... | --published``: rerun a challenge track and print its ranking."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from bench.cli.common import add_limit_options, check_output, fail, latency_settings, limits_of, out, write_output

if TYPE_CHECKING:
    from bench.challenges.rerun import Ranking

COLUMNS = ("rank", "submission", "team", "status", "PSNR dB", "runtime ms", "score", "note")


def _cells(row: Any) -> list[str]:
    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    return [str(row.rank or "-"), row.submission, row.team, row.status, num(row.psnr, 3), num(row.runtime_ms, 2),
            num(row.score, 4), row.reason]  # fmt: skip


def markdown(ranking: Ranking) -> str:
    lines = [f"# {ranking.track.title}", "", f"Quality task: `{ranking.quality_task}`. {ranking.device_note}.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]  # fmt: skip
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |" for row in ranking.rows]
    return "\n".join(lines) + "\n"


def cmd_challenge(args: argparse.Namespace) -> int:
    from bench.challenges.rerun import published, rerun
    from bench.challenges.tracks import all_tracks, get_track
    from bench.data.sources import default_data_root
    from bench.store import Store, describe_url

    check_output(args.json)
    check_output(args.markdown)
    if args.track == "list":
        for track in all_tracks().values():
            out.print(f"{track.id}: {track.title} (quality task {track.quality_task})", highlight=False)
        return 0
    track = get_track(args.track)
    if args.published:
        ranking = published(track)
    elif not args.submissions:
        return fail("give one or more submission folders, or --published for the official rows")
    else:
        data_root = Path(args.data_root) if args.data_root else default_data_root()
        settings = latency_settings(args.quick)
        with out.status(f"rerunning {track.id}"):
            store = Store(args.db) if args.db else None
            ranking = rerun(track, [Path(s) for s in args.submissions], args.device, data_root, settings, args.task,
                            Path(args.baseline) if args.baseline else None, store, limits_of(args))  # fmt: skip
    table = Table(title=track.title, title_justify="left", caption=escape(ranking.device_note))
    for column in COLUMNS:
        table.add_column(column)
    for row in ranking.rows:
        table.add_row(*(escape(c) for c in _cells(row)))
    out.print(table)
    if args.db and not args.published:
        out.print(f"scored runs stored in {describe_url(Store(args.db).url)}; see them with bench board --db {args.db}",
                  highlight=False)  # fmt: skip
    if args.json:
        record = {"track": track.id, "device": ranking.device, "note": ranking.device_note,
                  "quality_task": ranking.quality_task, "rows": [r.record() for r in ranking.rows]}  # fmt: skip
        write_output(args.json, json.dumps(record, indent=2))
    if args.markdown:
        write_output(args.markdown, markdown(ranking))
    return 0


def add_parser(sub: Any) -> None:
    challenge = sub.add_parser("challenge", help="rerun a challenge track and rank submissions")
    challenge.add_argument("track", help="track id (or 'list')")
    challenge.add_argument("submissions", nargs="*", help="submission folders")
    challenge.add_argument("--published", action="store_true", help="score the track's published rows instead")
    challenge.add_argument("--device", help="timing device (default: the track's own if attached, else its fallback)")
    challenge.add_argument("--task", help="quality task overriding the track's (e.g. deblur-deepdeblur-samples)")
    challenge.add_argument("--baseline", help="baseline submission whose runtime/FLOPs/params set the constants")
    challenge.add_argument("--data-root", help="folder with data sets in their official layouts")
    challenge.add_argument("--quick", action="store_true", help="short latency protocol")
    challenge.add_argument("--db", help="also store each scored run in this results store (the board's challenge page)")
    challenge.add_argument("--json", help="write the ranking as JSON")
    challenge.add_argument("--markdown", help="write the ranking as a Markdown table")
    add_limit_options(challenge)
    challenge.set_defaults(func=cmd_challenge)
