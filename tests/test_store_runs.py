"""Resumable, concurrent, duplicate-free scoring runs, exercised through real `bench score` processes, on
SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from bench.cli import main
from bench.data.images import list_images, read_image, write_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.store import Store
from tests.conftest import REPO
from tests.postgres import fresh_database, postgres_url  # noqa: F401  (the session fixture)

IDENTITY = REPO / "submissions" / "baselines" / "identity"


def _slow_task(root: Path, count: int = 10) -> Path:
    """A task dir with one deblurring task over ``count`` 768x768 photos (the 21x21 blur takes ~0.3 s each)."""
    scenes = [read_image(p) for p in list_images(EMBEDDED_ROOT / "scenes")]
    for i in range(count):
        write_image(root / "photos" / f"{i:03d}.png", imresize(scenes[i % len(scenes)], output_shape=(768, 768)))
    tasks = root / "tasks"
    tasks.mkdir()
    task = {
        "id": "deblur-slow", "version": 1, "kind": "deblur", "title": "slow", "seed": 0,
        "data": {"source": "image-folder", "path": "photos"},
        "degradation": {"name": "motion-blur", "params": {"kernel_size": 21}},
        "metric": {"colour": "rgb", "crop_border": 0}, "latency": {"input_shape": [1, 3, 32, 32]},
    }  # fmt: skip
    (tasks / "deblur-slow.yaml").write_text(yaml.safe_dump(task))
    return tasks


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Two empty stores of one backend: a reference and the one under test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    server = request.getfixturevalue("postgres_url")
    return fresh_database(server), fresh_database(server)


def _score(db: str, root: Path, tasks: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.cli", "score", str(IDENTITY), "--task", "deblur-slow",
               "--data-root", str(root), "--db", db, "--quick", *extra]  # fmt: skip
    env = os.environ | {"BENCH_TASKS_DIR": str(tasks), "XDG_DATA_HOME": str(root / "xdg")}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _image_rows(db: str) -> list[tuple[str, float, float]]:
    engine = create_engine(db)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT image_id, psnr, ssim FROM image_scores ORDER BY image_id")
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


def _rows_so_far(db: str) -> int:
    """Image rows written so far; 0 while the victim is still creating the schema."""
    try:
        return len(_image_rows(db))
    except SQLAlchemyError:  # "no such table" until its migration commits
        return 0


def test_sigkill_halfway_then_resume_equals_an_uninterrupted_run(tmp_path: Path, two_stores: tuple[str, str]) -> None:
    """The scorer is killed with SIGKILL (its sandboxed child dies with it); the resumed run's rows equal an
    uninterrupted run's."""
    tasks = _slow_task(tmp_path)
    reference_db, killed_db = two_stores
    reference = _score(reference_db, tmp_path, tasks)
    assert reference.wait(timeout=300) == 0, reference.stderr.read() if reference.stderr else ""

    victim = _score(killed_db, tmp_path, tasks)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _rows_so_far(killed_db) >= 3:
            break
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    partial = len(_image_rows(killed_db))
    assert 3 <= partial < 10, partial

    again = _score(killed_db, tmp_path, tasks)  # without --resume: refused, nothing lost
    assert again.wait(timeout=120) == 2
    assert "--resume" in " ".join((again.stderr.read() if again.stderr else "").split())
    resumed = _score(killed_db, tmp_path, tasks, "--resume")
    assert resumed.wait(timeout=300) == 0
    assert f"{partial} images already scored" in (resumed.stdout.read() if resumed.stdout else "")
    assert _image_rows(killed_db) == _image_rows(reference_db)  # exactly the rows of the uninterrupted run
    assert Store(killed_db).count() == 1


def test_eight_concurrent_processes_share_one_store(tmp_path: Path, two_stores: tuple[str, str]) -> None:
    db = two_stores[0]
    processes = []
    for i in range(8):
        folder = tmp_path / f"sub{i}"
        shutil.copytree(IDENTITY, folder)
        manifest = folder / "submission.yaml"
        text = re.sub(r"^name: identity$", f"name: mine-{i}", manifest.read_text(), flags=re.M)
        manifest.write_text(text.replace("team: bench baselines", "team: lab").replace("baseline, ", ""))
        command = [sys.executable, "-m", "bench.cli", "score", str(folder), "--task", "denoise-demo-s25",
                   "--db", db, "--quick"]  # fmt: skip
        env = os.environ | {"XDG_DATA_HOME": str(tmp_path / "xdg")}
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "locked" not in stderr
    store = Store(db)
    assert store.count() == 8
    assert sorted(r.submission.name for r in store.results()) == [f"mine-{i}" for i in range(8)]
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM image_scores").scalar() == 32
        duplicates = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM (SELECT run_id, image_id FROM image_scores GROUP BY 1, 2 HAVING COUNT(*) > 1) d"
        ).scalar()
        assert duplicates == 0


def test_a_finished_run_is_recognised_not_duplicated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.db")
    argv = ["score", str(IDENTITY), "--task", "denoise-demo-s25", "--db", db, "--quick"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert "already scored: result 1" in " ".join(capsys.readouterr().out.split())
    assert Store(db).count() == 1
    per_image = Store(db).image_scores(1)
    assert [r.id for r in per_image] == ["astronaut", "chelsea", "coffee", "rocket"]
    assert np.isclose(np.mean([r.psnr for r in per_image]), Store(db).results()[0].metrics.psnr)


class _LockedTwice:
    """A cursor whose first two ``execute`` calls fail as a racing SQLite connection's do."""

    def __init__(self, message: str = "database is locked") -> None:
        self.calls, self.message = 0, message

    def execute(self, _sql: str) -> None:
        self.calls += 1
        if self.calls <= 2:
            raise sqlite3.OperationalError(self.message)


def test_enabling_wal_retries_a_lock_and_raises_anything_else() -> None:
    from bench.store import _enable_wal

    cursor = _LockedTwice()
    _enable_wal(cursor)
    assert cursor.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _enable_wal(_LockedTwice("disk I/O error"))


def test_many_connections_switch_a_new_database_to_wal_at_once(tmp_path: Path) -> None:
    """8 threads open a fresh database and enable WAL together, 60 times: without the retry about 3 % of
    such races fail with "database is locked" (SQLite skips the busy handler), so this fails ~85 % of runs."""
    import threading

    from bench.store import _enable_wal

    errors: list[Exception] = []
    for trial in range(60):
        path, barrier = tmp_path / f"{trial}.db", threading.Barrier(8)

        def work(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=30)
                connection = sqlite3.connect(path, isolation_level=None)
                connection.execute("PRAGMA busy_timeout=30000")
                _enable_wal(connection.cursor())
                assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                connection.close()
            except Exception as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
