"""The layers import downward only: the board, the CLI's parser and the ranking module load no
torch or model runtime (checked in a fresh interpreter, where nothing was imported before)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("torch", "onnxruntime", "ai_edge_litert", "tensorflow")
BOARD_MODULES = [
    "bench.store",
    "bench.store.board_rows",
    "bench.tasks",
    *(
        f"leaderboards.{p.stem}"
        for p in sorted((REPO / "leaderboards").glob("*.py"))
        if p.stem not in ("app", "__init__")
    ),
]


def _loaded(code: str) -> dict[str, bool]:
    probe = (
        f"import sys, json\n{code}\nprint(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r} + ['pandas']}}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_board_modules_load_no_torch_or_runtime() -> None:
    assert len(BOARD_MODULES) >= 10  # every page and view module of the board
    loaded = _loaded("\n".join(f"import {m}" for m in BOARD_MODULES))
    assert not any(loaded[m] for m in HEAVY), loaded


@pytest.mark.parametrize("argv", [["--help"], ["tasks"], ["tasks", "show", "sr-set5-x2"]])
def test_cli_parsing_and_tasks_load_no_torch(argv: list[str]) -> None:
    code = f"from bench.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _loaded(code)
    assert not any(loaded[m] for m in HEAVY), loaded


def test_the_challenge_ranking_is_pure() -> None:
    loaded = _loaded("import bench.challenges.ranking")
    assert not any(loaded.values()), loaded  # no pandas either
