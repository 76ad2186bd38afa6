"""Progress reporting for a training run: a rich progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol


class Progress(Protocol):
    def start(self, total: int, done: int, label: str) -> None: ...

    def update(self, step: int, loss: float | None, lr: float) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """One line every ``every`` steps (and at the end), for logs and terminals without rich."""

    def __init__(self, every: int = 100) -> None:
        self.every, self.total, self.label, self.started = every, 0, "", time.perf_counter()

    def start(self, total: int, done: int, label: str) -> None:
        self.total, self.label, self.started = total, label, time.perf_counter()
        print(f"{label}: step {done}/{total}", flush=True)

    def update(self, step: int, loss: float | None, lr: float) -> None:
        if step % self.every == 0 or step == self.total:
            shown = "-" if loss is None else f"{loss:.5f}"
            elapsed = time.perf_counter() - self.started
            print(f"{self.label}: step {step}/{self.total} loss {shown} lr {lr:.3g} ({elapsed:.0f} s)", flush=True)

    def note(self, text: str) -> None:
        print(text, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A rich progress bar (steps, loss, lr, rate, time left); notes are printed above it."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        stats = TextColumn("{task.fields[stats]}")
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), stats, TimeElapsedColumn()]
        self.bar = Bar(*columns, TimeRemainingColumn(), transient=False)
        self.task: Any = None

    def start(self, total: int, done: int, label: str) -> None:
        self.bar.start()
        self.task = self.bar.add_task(label, total=total, completed=done, stats="")

    def update(self, step: int, loss: float | None, lr: float) -> None:
        stats = f"lr {lr:.3g}" if loss is None else f"loss {loss:.5f} lr {lr:.3g}"
        self.bar.update(self.task, completed=step, stats=stats)

    def note(self, text: str) -> None:
        self.bar.console.print(text, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.bar.stop()


def default_progress(every: int = 100) -> Progress:
    """A rich bar when stdout is a terminal and rich is installed, else plain lines."""
    if sys.stdout.isatty():
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress(every)
