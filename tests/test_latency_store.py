"""bench latency --db: measurements made after scoring join the submission's stored run and reach the board."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.store import Store
from tests.conftest import REPO

BICUBIC = str(REPO / "submissions/baselines/bicubic")


def test_latency_db_adds_a_device_to_the_scored_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.db")
    assert main(["latency", BICUBIC, "--task", "sr-set5-x2", "--device", "cpu-torch", "--quick", "--db", db]) == 2
    assert "score it first" in " ".join(capsys.readouterr().err.split())
    assert main(["score", BICUBIC, "--task", "sr-set5-x2", "--device", "cpu-torch", "--quick", "--db", db]) == 0
    capsys.readouterr()
    args = ["latency", BICUBIC, "--task", "sr-set5-x2", "--quick", "--db", db]
    assert main([*args, "--device", "cpu-onnxruntime", "--device", "cpu-torch"]) == 0
    assert "stored 2 latencies with run 1" in " ".join(capsys.readouterr().out.split())
    store = Store(db)
    (result,) = store.results()
    assert sorted(r.device for r in result.latency) == ["cpu-onnxruntime", "cpu-torch"]  # cpu-torch replaced
    assert "cpu-onnxruntime" in result.provenance.backends
    rows = store.leaderboard_rows("sr-set5-x2")
    assert sorted(r["device"] for r in rows) == ["cpu-onnxruntime", "cpu-torch"]
