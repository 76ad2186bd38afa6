"""Every case of the hostile corpus (tests/hostile/), run as a stranger's attempt would be: a real
``python -m bench.cli`` process against a store that already holds a finished result. Each must end with exit 2
and a one-paragraph error naming the problem, no traceback and nothing unprintable, within 90 s and 4 GiB of
resident memory (the command and its sandboxed child together, from ``wait4``), no code of the submission run,
and the store exactly as before.

The cases run four at a time in a module fixture (most of their time is process start-up); each then has its
own test.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.cli import main
from tests.conftest import REPO
from tests.hostile import CASES, IDENTITY

MAX_SECONDS = 90
MAX_RSS_BYTES = 4 * 2**30


@dataclass(frozen=True)
class Outcome:
    expect: str
    keeps_unfinished: bool
    code: int
    err: str
    seconds: float
    max_rss_bytes: int
    store_before: list[str]
    store_after: list[str]
    other_before: bytes | None
    other_after: bytes | None
    pwned: bool


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return list(connection.iterdump())


def _run(name: str, root: Path, template: Path) -> Outcome:
    root.mkdir(parents=True)
    store = root / "store.db"
    shutil.copy(template, store)
    attempt = CASES[name](root)
    url = f"sqlite:///{store}"
    if attempt.db == "READONLY":
        url = f"sqlite:///file:{store}?mode=ro&uri=true"
    elif attempt.db is not None:
        url = attempt.db
    other = Path(attempt.db) if attempt.db and not attempt.db.startswith(("READONLY", "postgresql")) else None
    other_before = other.read_bytes() if other else None
    env = os.environ | {"BENCH_DB": url, "XDG_DATA_HOME": str(root / "xdg"), "PYTHONPATH": str(REPO), **attempt.env}
    before = _dump(store)
    file_limit = store.stat().st_size + 16 * 1024 if attempt.full_disk else None
    code, err, seconds, rss = _spawn(attempt.argv, env, root, file_limit)
    other_after = other.read_bytes() if other else None
    return Outcome(attempt.expect, attempt.keeps_unfinished, code, err, seconds, rss, before, _dump(store),
                   other_before, other_after, (root / "pwned").exists())  # fmt: skip


def _spawn(argv: list[str], env: dict[str, str], cwd: Path, file_limit: int | None) -> tuple[int, str, float, int]:
    """Run ``bench ARGV``; its exit code, stderr, wall time and peak resident memory (itself and every
    descendant it waited for, as ``wait4`` reports it)."""

    def limit_files() -> None:  # a full disk: writes past the limit fail with EFBIG instead of killing
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        assert file_limit is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    start = time.monotonic()
    err_path = cwd / "stderr.txt"
    with err_path.open("wb") as err_file:
        process = subprocess.Popen([sys.executable, "-m", "bench.cli", *argv], cwd=cwd, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err_file,
                                   preexec_fn=limit_files if file_limit else None)  # fmt: skip
        deadline = start + MAX_SECONDS * 2
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, err_path.read_text(errors="replace"), time.monotonic() - start, usage.ru_maxrss * 1024


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one finished result (identity on the deblurring demo)."""
    folder = tmp_path_factory.mktemp("template")
    db = folder / "store.db"
    argv = ["score", str(IDENTITY), "--task", "deblur-demo-motion", "--quick", "--db", str(db)]
    done = subprocess.run([sys.executable, "-m", "bench.cli", *argv], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"XDG_DATA_HOME": str(folder / "xdg")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture(scope="module")
def outcomes(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("hostile")
    names = sorted(CASES)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {n: pool.submit(_run, n, base / f"case{i:03d}", template) for i, n in enumerate(names)}
        return {n: f.result() for n, f in futures.items()}


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_attempt_is_refused_cleanly(name: str, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[name]
    err = " ".join(outcome.err.split())
    assert outcome.code == 2, outcome.err
    assert err.startswith("error:") and "Traceback" not in err, outcome.err
    assert all(c.isprintable() or c == "\n" for c in outcome.err), repr(outcome.err)
    assert outcome.expect in err, err
    assert outcome.seconds < MAX_SECONDS, outcome.seconds
    assert outcome.max_rss_bytes < MAX_RSS_BYTES, outcome.max_rss_bytes
    assert not outcome.pwned  # nothing of the submission ran outside the model's own call
    if outcome.keeps_unfinished:  # a full disk: what was there stays; only the unfinished run was added
        assert set(outcome.store_before) <= set(outcome.store_after)
        added_runs = [
            r for r in set(outcome.store_after) - set(outcome.store_before) if r.startswith('INSERT INTO "runs"')
        ]
        assert len(added_runs) == 1 and ",'running'," in added_runs[0], added_runs
    else:
        assert outcome.store_after == outcome.store_before  # the store is as it was
    assert outcome.other_after == outcome.other_before


def test_the_projects_own_folders_keep_their_names(capsys: pytest.CaptureFixture[str], isolated_store: str) -> None:
    from bench.reserved import check_identity, trusted_baseline

    check_identity(REPO / "submissions/baselines/identity", "identity", "bench baselines", ["baseline"])  # no error
    assert main(["score", str(REPO / "submissions/baselines/identity"), "--task", "denoise-demo-s25", "--quick"]) == 0
    assert trusted_baseline("bench baselines", ["baseline"]) and not trusted_baseline("lab", ["baseline"])
