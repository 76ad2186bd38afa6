"""``bench optimize METHOD``: one subcommand per registered method (:mod:`bench.optimize.options`), each
built from its options model; parsing and printing only, the method runs in the library."""

from __future__ import annotations

import argparse
import types
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bench.cli.common import fail, out
from bench.definitions import explain
from bench.errors import USER_ERRORS
from bench.optimize.methods import METHODS, Event, Method, Options, Report, flag_of
from bench.optimize.options import PruneOptions  # noqa: F401 (registers every method)

_STOPS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError)  # a method's settings errors are ValueErrors


class StageBars:
    """The :data:`bench.optimize.methods.Progress` of the terminal: a bar per counted stage (named by its
    first word), and each message printed above the bars."""

    def __init__(self, quiet: bool) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bars = Progress(*columns, console=out, disable=quiet, transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> StageBars:
        return self  # the bars start with the first counted event: a run without one prints no empty line

    def __exit__(self, *exc: object) -> None:
        if self.tasks:
            self.bars.stop()

    def __call__(self, event: Event) -> None:
        if event.message:
            out.print(event.message, markup=False, highlight=False, soft_wrap=True)
        if event.total is not None:
            key = event.stage.split(" ")[0]
            if not self.tasks:
                self.bars.start()
            if key not in self.tasks:
                self.tasks[key] = self.bars.add_task(key, total=event.total)
            self.bars.update(self.tasks[key], completed=event.done or 0, total=event.total,
                             description=event.stage[:60])  # fmt: skip


def _plain(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _bounds(info: FieldInfo) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """(lower, upper) bound of a field, each (value, inclusive), from its ge / gt / le / lt."""
    low = high = None
    for m in info.metadata:
        if isinstance(m, Ge | Gt):
            low = (m.ge, True) if isinstance(m, Ge) else (m.gt, False)
        elif isinstance(m, Le | Lt):
            high = (m.le, True) if isinstance(m, Le) else (m.lt, False)
    return low, high  # type: ignore[return-value]


def _bounded(kind: Callable[[str], Any], info: FieldInfo) -> Callable[[str], Any]:
    """An argparse type: ``kind`` of the text, checked against the field's bounds (a bad value exits 2 with
    the bound in words, before anything runs)."""
    low, high = _bounds(info)
    name = getattr(kind, "__name__", "value")

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {name}, not {text!r}") from None
        above_low = low is None or value > low[0] or (low[1] and value == low[0])
        below_high = high is None or value < high[0] or (high[1] and value == high[0])
        if above_low and below_high:
            return value
        if low is not None and high is not None:
            raise argparse.ArgumentTypeError(f"must be between {low[0]:g} and {high[0]:g}, not {text}")
        if low is not None:
            raise argparse.ArgumentTypeError(f"must be {'at least' if low[1] else 'more than'} {low[0]:g}, not {text}")
        assert high is not None
        raise argparse.ArgumentTypeError(f"must be {'at most' if high[1] else 'less than'} {high[0]:g}, not {text}")

    parse.__name__ = name
    return parse


def add_options(parser: argparse.ArgumentParser, model: type[Options]) -> None:
    """One argument per field of ``model``: its flag (or positional), type, bounds, choices, default and help."""
    for name, info in model.model_fields.items():
        flag = flag_of(name, info)
        kind = _plain(info.annotation)
        required = info.is_required()
        default = None if required else info.default
        kwargs: dict[str, Any] = {"help": info.description or ""}
        if flag.metavar:
            kwargs["metavar"] = flag.metavar
        if kind is bool:
            kwargs["action"] = "store_true"
        elif get_origin(kind) is Literal:
            kwargs["choices"] = list(get_args(kind))
        elif get_origin(kind) is list:
            kwargs["nargs"], kwargs["type"] = "+", _bounded(get_args(kind)[0], info)
        else:
            kwargs["type"] = _bounded(kind, info)
        if default not in (None, False):
            kwargs["help"] += f" (default {default})"
        if flag.positional:
            parser.add_argument(name, nargs=None if required else "?", default=default, **kwargs)
        else:
            if kind is not bool:
                kwargs.setdefault("metavar", flag.flags[0].lstrip("-").replace("-", "_").upper())
            parser.add_argument(*flag.flags, dest=name, required=required, default=default, **kwargs)


def _print(report: Report) -> None:
    for table in report.tables:
        shown = Table(title=Text(table.title), title_justify="left")
        for column in table.columns:
            shown.add_column(Text(column))
        for row in table.rows:
            shown.add_row(*(Text(cell) for cell in row))
        out.print(shown)
    for line in report.lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def cmd_method(method: Method[Any], args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    values = {name: getattr(args, name) for name in method.options.model_fields}
    try:
        options = method.options.model_validate(values)
    except ValidationError as exc:
        return fail(f"bench optimize {method.name}: {explain(exc)}")
    try:
        with StageBars(getattr(options, "quiet", False)) as display:
            report = method.run(options, display)
    except _STOPS as exc:
        return fail(str(exc))
    _print(report)
    return 0


def add_parser(sub: Any) -> None:
    optimize = sub.add_parser("optimize", help="derive an optimised submission from a baseline")
    methods = optimize.add_subparsers(dest="method", required=True)
    for method in METHODS.values():
        parser = methods.add_parser(method.name, help=method.summary, description=method.summary)
        add_options(parser, method.options)
        parser.set_defaults(func=partial(cmd_method, method))
