"""The optimisation-method interface and its registry.

A method (lightweight rewrite, pruning, quantisation, NAS, portable search, ...) is registered with
one pydantic model of its options, from which ``bench optimize METHOD`` is built (each field is
an option: its type, default, bounds and description become the flag's type, default, check and
help), and one function, imported when the method runs::

    run(options, progress) -> Report

It starts from a baseline submission when its options have one (``baseline``), reports progress
through a single callback type (:data:`Progress`, taking :class:`Event`), writes its submission
through :func:`bench.submission_writer.write_submission`, and returns a :class:`Report` (the lines
and tables the CLI prints). Adding a method is its module with the run function, plus its options
model and :func:`register_method` call in :mod:`bench.optimize.options`.

This module imports no torch: the CLI builds every method's parser from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from bench.registry import Registry


@dataclass(frozen=True)
class Event:
    """One progress report. ``message``: a line for the user ("" for a tick); ``done``/``total``: how far
    the stage ``stage`` is (a progress bar), when counted."""

    stage: str
    message: str = ""
    done: int | None = None
    total: int | None = None


Progress = Callable[[Event], None]


def silent(event: Event) -> None:
    """A :data:`Progress` that shows nothing."""


@dataclass
class Table:
    """A table a method reports: a title, column headers and rows of text cells."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Report:
    """What a run hands back: the submission folder it wrote (None for a preview), the summary lines
    and tables to show, and its full report (also written into the folder as JSON)."""

    folder: Any = None
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class Options(BaseModel):
    """Base of every method's options: validated, frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def option(
    default: Any = ...,
    help: str = "",
    flags: tuple[str, ...] = (),
    positional: bool = False,
    metavar: str | None = None,
    **constraints: Any,
) -> Any:
    """A field of an :class:`Options` model with what its flag needs: ``flags`` (default ``--name-with-dashes``),
    ``positional`` for the baseline argument, ``metavar``; ``constraints`` are pydantic's (``ge``, ``le``, ...)."""
    cli: dict[str, Any] = {"flags": list(flags), "positional": positional, "metavar": metavar}
    return Field(default, description=help, json_schema_extra={"cli": cli}, **constraints)


@dataclass(frozen=True)
class Flag:
    """How an options field appears on the command line: its flags (empty for a positional), metavar."""

    flags: tuple[str, ...]
    positional: bool
    metavar: str | None


def flag_of(name: str, info: FieldInfo) -> Flag:
    """The :class:`Flag` of field ``name`` (``--name-with-dashes`` unless :func:`option` named others)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    cli: Any = extra.get("cli") or {}
    flags = tuple(cli.get("flags") or (f"--{name.replace('_', '-')}",))
    return Flag(() if cli.get("positional") else flags, bool(cli.get("positional")), cli.get("metavar"))


OptionsT = TypeVar("OptionsT", bound=Options)


@dataclass(frozen=True)
class Method(Generic[OptionsT]):
    """A registered method: its name, one-line summary, options model and run function (``module:function``)."""

    name: str
    summary: str
    options: type[OptionsT]
    run_path: str

    def run(self, options: OptionsT, progress: Progress = silent) -> Report:
        module, _, function = self.run_path.partition(":")
        runner: Callable[[OptionsT, Progress], Report] = getattr(importlib.import_module(module), function)
        return runner(options, progress)


METHODS = Registry[Method[Any]]("optimisation method")


def register_method(name: str, summary: str, run: str) -> Callable[[type[OptionsT]], type[OptionsT]]:
    """Class decorator registering an :class:`Options` model as method ``name`` run by ``run``."""

    def wrap(options: type[OptionsT]) -> type[OptionsT]:
        METHODS.add(name, Method(name, summary, options, run))
        return options

    return wrap
