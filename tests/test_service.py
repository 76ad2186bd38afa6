"""The submission service end to end, with real `bench worker` processes: jobs submitted by a team, scored by
two workers, one of them killed with SIGKILL mid-job; on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bench.cli import main
from bench.store import Store
from tests.conftest import REPO
from tests.postgres import fresh_database, postgres_url  # noqa: F401  (the session fixture)
from tests.test_store_runs import IDENTITY, _slow_task


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    return fresh_database(request.getfixturevalue("postgres_url"))


def _team(url: str, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["team", "create", name, "--db", url]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _good(root: Path, name: str, team: str) -> Path:
    folder = root / name
    shutil.copytree(IDENTITY, folder)
    manifest = folder / "submission.yaml"
    text = re.sub(r"^name: identity$", f"name: {name}", manifest.read_text(), flags=re.M)
    text = text.replace("team: bench baselines", f"team: {team}").replace("[baseline, parameter-free]", "[fast]")
    manifest.write_text(text)
    return folder


def _hostile(root: Path, name: str, team: str, architecture: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "submission.yaml").write_text(
        f"name: {name}\nteam: {team}\ntasks: [deblur-slow]\nformat: safetensors\narchitecture: {architecture}\n"
    )
    return folder


def _jobs(url: str) -> dict[int, tuple[str, str | None, int | None, str | None, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT id, status, worker, result_id, error, attempts FROM jobs")
            return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}
    finally:
        engine.dispose()


def _images_of_running_run(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = (
                "SELECT COUNT(*) FROM image_scores JOIN runs ON runs.id = image_scores.run_id WHERE runs.status = %s"
            )
            return int(connection.exec_driver_sql(query.replace("%s", "'running'")).scalar() or 0)
    finally:
        engine.dispose()


def test_two_workers_one_killed_score_every_job_once(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = _slow_task(tmp_path)  # one deblurring task over ten 768 x 768 photos: a job takes seconds
    monkeypatch.setenv("BENCH_TASKS_DIR", str(tasks))
    env = os.environ | {"BENCH_TASKS_DIR": str(tasks), "XDG_DATA_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(REPO)}
    token = _team(store_url, "lab", capsys)
    good = [_good(tmp_path, f"good-{i}", "lab") for i in range(3)]
    hostile = [_hostile(tmp_path, "hangs", "lab", "{name: test-hangs}"),
               _hostile(tmp_path, "hungry", "lab", "{name: test-hungry, args: {gib: 6}}")]  # fmt: skip
    for folder in [*good, *hostile]:
        assert (
            main(["submit", str(folder), "--task", "deblur-slow", "--quick", "--token", token, "--db", store_url]) == 0
        )
    capsys.readouterr()

    def worker(name: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "bench.cli", "worker", "--db", store_url, "--idle-exit", "8", "--lease", "4",
                   "--poll", "0.2", "--image-limit", "20", "--memory-limit", "3G", "--cache", str(tmp_path / name),
                   "--data-root", str(tmp_path)]  # fmt: skip
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    victim = worker("a")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _images_of_running_run(store_url) < 3:
        time.sleep(0.1)
    survivor = worker("b")
    os.kill(victim.pid, signal.SIGKILL)  # mid-job: its first job has 3 or more of its 10 images stored
    victim.wait(timeout=30)
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err
    jobs = _jobs(store_url)
    assert [jobs[i][0] for i in sorted(jobs)] == ["done", "done", "done", "failed", "failed"], jobs
    assert jobs[1][4] == 2  # the killed worker's job was claimed again, and resumed
    assert "within the per-image limit of 20 s" in (jobs[4][3] or "")
    assert "over the memory limit of 3 GiB" in (jobs[5][3] or "")
    assert out.count("done: result") == 3  # the survivor scored the killed worker's job too, and kept serving

    store = Store(store_url)
    assert store.count() == 3 and len({jobs[i][2] for i in (1, 2, 3)}) == 3  # each result stored once
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM image_scores").scalar() == 30
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM runs WHERE status <> 'complete'").scalar() == 0
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    for i, folder in enumerate(good, start=1):  # the same metrics as bench score of the same folder
        assert main(["score", str(folder), "--task", "deblur-slow", "--quick", "--db", reference,
                     "--data-root", str(tmp_path)]) == 0  # fmt: skip
        served = store.run_detail(jobs[i][2])
        scored = next(r for r in Store(reference).results() if r.submission.name == folder.name)
        assert served is not None and served["result"]["metrics"]["psnr"] == scored.metrics.psnr
        assert [r["psnr"] for r in served["result"]["metrics"]["per_image"]] == [
            r.psnr for r in scored.metrics.per_image
        ]


def test_names_belong_to_one_team_and_tokens_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    first, second = _team(isolated_store, "first", capsys), _team(isolated_store, "second", capsys)
    mine = _good(tmp_path, "shared-name", "first")
    argv = ["submit", str(mine), "--task", "denoise-demo-s25", "--quick"]
    assert main([*argv, "--token", first]) == 0
    capsys.readouterr()
    assert main([*argv, "--token", "not-a-token"]) == 2
    assert "the team token is not valid" in capsys.readouterr().err
    assert main([*argv, "--token", second]) == 2  # the folder says team first: not the token's team
    assert "names team 'first', but the token is team 'second'" in " ".join(capsys.readouterr().err.split())
    theirs = _good(tmp_path / "other", "shared-name", "second")  # the second team, the first team's name
    assert main(["submit", str(theirs), "--task", "denoise-demo-s25", "--quick", "--token", second]) == 2
    assert "the submission name 'shared-name' belongs to another team" in " ".join(capsys.readouterr().err.split())
    assert main(["team", "create", "Bench Baselines"]) == 2
    assert "reserved for the project" in capsys.readouterr().err
    assert main(["team", "create", "FIRST"]) == 2  # the same team, spelt otherwise
    assert "exists already" in capsys.readouterr().err


def test_a_worker_with_two_slots_on_ray_scores_like_bench_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """`bench worker --executor ray --slots 2`: each job a Ray task that reads the submission from the store
    itself; the metrics equal a local worker's."""
    token = _team(isolated_store, "lab", capsys)
    folders = [_good(tmp_path, f"ray-{i}", "lab") for i in range(2)]
    for folder in folders:
        assert main(["submit", str(folder), "--task", "denoise-demo-s25", "--quick", "--token", token]) == 0
    argv = ["worker", "--executor", "ray", "--slots", "2", "--max-jobs", "2", "--cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("done: result") == 2, printed
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    assert main(["score", str(folders[0]), "--task", "denoise-demo-s25", "--quick", "--db", reference]) == 0
    served = next(r for r in Store(isolated_store).results() if r.submission.name == "ray-0")
    assert served.metrics.psnr == Store(reference).results()[0].metrics.psnr


def test_the_owner_cancels_and_retries_and_nobody_else_can(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    owner, stranger = _team(isolated_store, "lab", capsys), _team(isolated_store, "rivals", capsys)
    folder = _good(tmp_path, "queued-one", "lab")
    assert main(["submit", str(folder), "--task", "denoise-demo-s25", "--quick", "--token", owner]) == 0
    assert main(["queue", "cancel", "1", "--token", stranger]) == 2
    assert "job 1 belongs to another team" in capsys.readouterr().err
    assert main(["queue", "retry", "1", "--token", owner]) == 2
    assert "only a failed or cancelled job can be retried" in " ".join(capsys.readouterr().err.split())
    assert main(["queue", "cancel", "1", "--token", owner]) == 0
    assert main(["queue", "--json", str(tmp_path / "q.json")]) == 0
    import json

    assert [j["status"] for j in json.loads((tmp_path / "q.json").read_text())] == ["cancelled"]
    assert main(["submit", str(folder), "--task", "denoise-demo-s25", "--quick", "--token", owner]) == 0
    assert "job 2: queued-one on denoise-demo-s25 (queued)" in capsys.readouterr().out  # a cancelled job is not open
    assert main(["queue", "retry", "1", "--token", owner]) == 0
    assert main(["queue", "cancel", "9", "--token", owner]) == 2
    assert "there is no job 9" in capsys.readouterr().err


def test_a_job_over_the_job_timeout_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    token = _team(isolated_store, "lab", capsys)
    folder = _hostile(tmp_path, "slow", "lab", "{name: test-hangs}")
    (folder / "submission.yaml").write_text(
        (folder / "submission.yaml").read_text().replace("deblur-slow", "denoise-*")
    )
    assert main(["submit", str(folder), "--task", "denoise-demo-s25", "--quick", "--token", token]) == 0
    assert main(["worker", "--max-jobs", "1", "--job-timeout", "6", "--cache", str(tmp_path / "cache")]) == 0
    assert "exceeded the whole-run limit of 6 s" in " ".join(capsys.readouterr().out.split())
