"""Folders of the bench checkout that the package reads (it is installed editable: see README)."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
TASKS_DIR = CHECKOUT / "tasks"
SUBMISSIONS_DIR = CHECKOUT / "submissions"
BOARD_APP = CHECKOUT / "leaderboards" / "app.py"
