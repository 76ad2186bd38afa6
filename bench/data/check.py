"""``bench data check``: is a task's data set on disk, complete, and readable?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.data.pipeline import make_source, task_entries
from bench.data.sources import SOURCES, DataNotFound, Problem, Source

if TYPE_CHECKING:
    from bench.tasks import Task


@dataclass(frozen=True)
class CheckReport:
    task: str
    folder: Path | None
    layout: str
    samples: int
    problems: list[Problem]

    @property
    def complete(self) -> bool:
        return self.samples > 0 and not self.problems


def check_task(task: Task, data_root: Path | None) -> CheckReport:
    """Index the task's data set and verify every sample's files (presence, decoding, sizes)."""
    try:
        source: Source = make_source(task, data_root)
    except DataNotFound as exc:
        where = (data_root if data_root is not None else Path("<data-root>")) / task.data.path
        layout = SOURCES[task.data.source](where, colour=task.data.colour, **task.data.options).layout()
        return CheckReport(task.id, None, layout, 0, [Problem(where, str(exc))])
    try:
        entries = task_entries(task, source)
    except DataNotFound as exc:
        return CheckReport(task.id, source.folder, source.layout(), 0, [Problem(source.folder, str(exc))])
    return CheckReport(task.id, source.folder, source.layout(), len(entries), source.check(entries))
