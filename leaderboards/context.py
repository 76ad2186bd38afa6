"""What every page of the board is given."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.store import Store


@dataclass(frozen=True)
class Context:
    store: Store
    frame: pd.DataFrame  # the board frame of the whole store (leaderboards.frames.board_frame)
    titles: dict[str, str]  # task id -> title, for registered tasks

    def task_label(self, task_id: str) -> str:
        """``title (id)`` for a registered task, ``id (not registered)`` for one that no longer is."""
        title = self.titles.get(task_id)
        return f"{title} ({task_id})" if title else f"{task_id} (not registered)"
