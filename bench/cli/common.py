"""What every command module shares: consoles, the user-error exit, result tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.results import Result
from bench.text import printable

if TYPE_CHECKING:
    from bench.limits import Limits
    from bench.runtime.protocol import LatencySettings

EXIT_USAGE = 2
_WIDTH = None if sys.stdout.isatty() else 160  # rich falls back to 80 columns when piped
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)


DB_HELP = "store URL or SQLite path (default $BENCH_DB or ~/.local/share/bench/results.db)"
DEVICE_HELP = "latency device id (repeatable; default: the quality device)"
QUALITY_DEVICE_HELP = "device that runs the test set (default: the format's own: torch, onnxruntime, tflite)"


def add_scoring_options(parser: Any) -> None:
    """The options every scoring command shares: the task, the devices, the data, the store, the protocol."""
    parser.add_argument("--task", required=True)
    parser.add_argument("--device", action="append", help=DEVICE_HELP)
    parser.add_argument("--quality-device", help=QUALITY_DEVICE_HELP)
    parser.add_argument("--data-root", help="folder with data sets in their official layouts (default $BENCH_DATA)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--quick", action="store_true", help="shorter latency protocol (10 runs, 0.5 s)")


def latency_settings(quick: bool) -> LatencySettings:
    """The latency protocol of ``--quick`` (short) or the default (careful) one."""
    from bench.runtime.protocol import QUICK, LatencySettings

    return QUICK if quick else LatencySettings()


def write_output(path: str, text: str) -> None:
    """Write a file the user asked for (``--json``, ``--markdown``), creating its folder; a path that
    cannot be written is a one-paragraph error (exit 2), never a traceback."""
    from bench.errors import OutputError

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc


def check_output(path: str | None) -> None:
    """Refuse, before any work, an output file (``--json``, ``--markdown``) that cannot be written: a folder,
    or a path under an existing file; so a long run never ends with its result unwritten."""
    from bench.errors import OutputError

    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {target}: {ancestor} is a file, not a folder")


def plain(text: str) -> str:
    """User text as data for the terminal: control characters (ANSI escapes included) shown as ``?``, and
    rich markup escaped, so a name like ``[/]`` prints as it is instead of breaking the output."""
    return escape(printable(text, keep="\n\t"))


def fail(message: str) -> int:
    """Print a one-paragraph error and return the exit code for user errors (the message is data: it may
    quote a submission's names and keys)."""
    err.print(f"[bold red]error:[/] {plain(message)}", highlight=False, soft_wrap=True)
    return EXIT_USAGE


def reported_note(result: Result) -> str | None:
    """Measured minus reported, for a submission that declares the reported model it reproduces."""
    if result.submission.reproduces is None:
        return None
    from bench.reported import difference_note

    return difference_note(result.submission.reproduces, result.task, result.metrics.psnr, result.metrics.ssim)


def device_note(device: str, info: Mapping[str, Any]) -> str | None:
    """The line about one device's backend description: why it could not take the submission's format, or the
    converter that made its model and that model's largest error against the original; None otherwise."""
    if "not_measured" in info:
        return f"{device}: not measured: {info['not_measured']}"
    conversion = info.get("conversion")
    if not isinstance(conversion, Mapping) or "converted_from" not in conversion:  # e.g. a module's own export
        return None
    error = conversion.get("max_abs_error")
    shown = "n/a" if error is None else f"{error:.3g}"
    return (f"{device}: converted from {conversion['converted_from']} by {conversion['converter']}, "
            f"max |error| vs the original {shown} (bound {conversion['bound']:g})")  # fmt: skip


def device_notes(result: Result) -> list[str]:
    """:func:`device_note` of every device of ``result``."""
    return [line for device, info in result.provenance.backends.items() if (line := device_note(device, info))]


def result_table(title: str, results: Sequence[Result]) -> Table:
    """One row per result and latency device: its scores under every metric any of them recorded (the metric
    objects give titles and precision) on its first row, each device's median latency, its complexity."""
    from bench.metrics.registry import BUILTIN, METRICS
    from bench.runtime.protocol import kind_text

    shown = [m for m in METRICS.values() if m.name in BUILTIN or any(m.name in r.metrics.extra for r in results)]
    table = Table(title=escape(title), title_justify="left")
    columns = ("task", "submission", *(m.title for m in shown), "device", "median ms", "latency", "MACs (G)", "params")
    for column in columns:
        table.add_column(column, justify="left" if column in ("task", "submission", "device", "latency") else "right")
    for r in results:
        head = [r.task, plain(r.submission.name), *(m.text(r.metrics.value(m.name)) for m in shown)]
        complexity = [
            "n/a" if r.complexity.macs is None else f"{r.complexity.macs / 1e9:.2f}",
            "n/a" if r.complexity.params is None else f"{r.complexity.params:,}",
        ]
        for n, latency in enumerate(r.latency or [None]):
            timed = [latency.device, f"{latency.median_ms:.4g}", kind_text(latency.stable, latency.spread)] if latency \
                else ["-", "-", "-"]  # fmt: skip
            table.add_row(*(head if n == 0 else [""] * len(head)), *timed, *(complexity if n == 0 else ["", ""]))
    return table


def size_arg(text: str) -> int:
    """An argparse type: a size such as 16G (:func:`bench.limits.parse_size`)."""
    from bench.limits import parse_size

    return int(_argument(parse_size, text))


def count_arg(text: str) -> float:
    """An argparse type: a count such as 20T (:func:`bench.limits.parse_count`)."""
    from bench.limits import parse_count

    return _argument(parse_count, text)


def _argument(parse: Callable[[str], float], text: str) -> float:
    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The sandbox's limits as options (:class:`bench.limits.Limits`; docs/submissions.md)."""
    from bench.limits import Limits

    for flag, kind, default, metavar, text in (
        ("--image-limit", float, Limits.per_image_s, "S", "seconds for one image or measurement (default 300)"),
        ("--run-limit", float, Limits.total_s, "S", "seconds for the whole run (default 21600: 6 h)"),
        ("--memory-limit", size_arg, Limits.memory_bytes, "SIZE", "address space of the model's process (default 16G)"),
        ("--file-limit", size_arg, Limits.file_bytes, "SIZE", "largest file the model may write (default 4G)"),
        ("--mac-limit", count_arg, Limits.macs, "COUNT", "multiply-accumulates of one call, counted first (20T)"),
    ):
        parser.add_argument(flag, type=kind, default=default, metavar=metavar, help=text)


def limits_of(args: argparse.Namespace) -> Limits:
    """The :class:`~bench.limits.Limits` of options added by :func:`add_limit_options`."""
    from bench.limits import Limits

    return Limits(args.image_limit, args.run_limit, args.memory_limit, args.file_limit, macs=args.mac_limit)
