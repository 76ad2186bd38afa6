"""Executors and ``bench score-many``: every result stored, failures reported without stopping the others,
Ray and local give the same metrics, a dying worker process is isolated."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.torch import save_file

from bench.cli import many
from bench.executors import EXECUTORS, Job, LocalExecutor, Outcome, get_executor, make_jobs, run_job
from bench.registry import UnknownName
from bench.runtime.protocol import LatencySettings
from bench.store import Store
from tests.conftest import REPO

TASK = "denoise-demo-s25"
FAST = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)
BASELINES = REPO / "submissions" / "baselines"
# Workers are other processes: only architectures the project registers (identity, bicubic) exist there.
IDENTITY = "tasks: [denoise-*]\nformat: safetensors\nteam: tests\n"


def _submission(root: Path, name: str, extra: str = "", weights: bool = False) -> str:
    folder = root / name
    folder.mkdir()
    if weights:  # a real (tiny, empty: identity has no parameters) safetensors weights file
        save_file({}, str(folder / "model.safetensors"))
    (folder / "submission.yaml").write_text(f"name: {name}\n{IDENTITY}{extra}")
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("subs")
    return {
        "identity": str(BASELINES / "identity"),
        "with-weights": _submission(
            root, "id-weights", "architecture: {name: identity}\nfiles: {weights: model.safetensors}\ntags: [w]\n", True
        ),
        "with-args": _submission(root, "id-args", "architecture: {name: identity, args: {channels: 3}}\ntags: [a]\n"),
        "missing-weights": _submission(root, "id-missing", "architecture: {name: identity}\nfiles: {weights: no.st}\n"),
        "undeclared": str(BASELINES / "bicubic"),  # declares sr-* only
    }


GOOD = ("identity", "with-weights", "with-args")
BROKEN = {"missing-weights": "does not exist", "undeclared": "does not declare task"}


def _by_key(folders: dict[str, str], outcomes: list[Outcome]) -> dict[str, Outcome]:
    key = {path: name for name, path in folders.items()}
    return {key[o.job.submission]: o for o in outcomes}


@pytest.fixture(scope="module")
def local_outcomes(folders: dict[str, str]) -> dict[str, Outcome]:
    jobs = make_jobs(list(folders.values()), TASK, latency=FAST)
    return _by_key(folders, list(get_executor("local", workers=2).run(jobs)))


def test_local_executor_stores_every_result_and_reports_failures(
    local_outcomes: dict[str, Outcome], tmp_path: Path
) -> None:
    assert set(local_outcomes) == set(GOOD) | set(BROKEN)
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    for name in GOOD:
        outcome = local_outcomes[name]
        assert outcome.ok and outcome.error is None, outcome.error
        result = outcome.parsed()
        assert result.task == TASK and len(result.metrics.per_image) == 4
        assert store.add(result) > 0
    assert store.count() == len(GOOD)
    for name, message in BROKEN.items():
        outcome = local_outcomes[name]
        assert not outcome.ok and outcome.error is not None and message in outcome.error
        with pytest.raises(ValueError, match="failed"):
            outcome.parsed()
    # the same model under three manifests: same quality
    psnrs = {round(local_outcomes[n].parsed().metrics.psnr, 9) for n in GOOD}
    assert len(psnrs) == 1


def test_ray_executor_gives_the_same_metrics(folders: dict[str, str], local_outcomes: dict[str, Outcome]) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        jobs = make_jobs(list(folders.values()), TASK, latency=FAST)
        outcomes = _by_key(folders, list(get_executor("ray", workers=2).run(jobs)))
        assert ray.is_initialized()  # the executor leaves a cluster it did not start running
    finally:
        ray.shutdown()
    assert set(outcomes) == set(local_outcomes)
    for name in GOOD:
        ours, local = outcomes[name].parsed(), local_outcomes[name].parsed()
        assert ours.submission == local.submission
        assert ours.metrics.psnr == local.metrics.psnr and ours.metrics.ssim == local.metrics.ssim
        assert [(r.id, r.psnr, r.ssim) for r in ours.metrics.per_image] == [
            (r.id, r.psnr, r.ssim) for r in local.metrics.per_image
        ]
    for name, message in BROKEN.items():
        error = outcomes[name].error
        assert error is not None and message in error


def _parser() -> argparse.ArgumentParser:
    """As bench/cli/__init__.py builds it."""
    parser = argparse.ArgumentParser(prog="bench")
    many.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_score_many(
    folders: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bench.runtime.protocol.QUICK", FAST)
    db, out_json = tmp_path / "many.db", tmp_path / "many.json"
    paths = [folders[n] for n in ("identity", "missing-weights", "with-args")]
    args = _parser().parse_args(
        ["score-many", *paths, "--task", TASK, "--db", str(db), "--workers", "2", "--quick", "--json", str(out_json)]
    )
    code = args.func(args)
    captured = capsys.readouterr()
    assert code == 1  # some failed
    assert Store(str(db)).count() == 2
    assert "2 stored, 1 failed" in captured.out
    assert "under contention" in captured.err and "does not exist" in captured.err
    records = {r["submission"]: r for r in json.loads(out_json.read_text())}
    assert records[folders["missing-weights"]]["result_id"] is None
    assert "does not exist" in records[folders["missing-weights"]]["error"]
    assert {records[p]["result_id"] for p in (folders["identity"], folders["with-args"])} == {1, 2}
    assert records[folders["identity"]]["result"]["metrics"]["psnr"] > 15
    for path in (folders["identity"], folders["with-args"]):  # the workers took the one road: crops were stored
        crops = Store(str(db)).samples(records[path]["result_id"])
        assert [c.position for c in crops] == [0, 1, 2] and all(c.output_png for c in crops)


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["score-many", "x", "--task", TASK, "--workers", "0", "--db", str(tmp_path / "d")])
    assert many.cmd_score_many(args) == 2 and "at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["score-many", "x", "--task", TASK, "--executor", "dask"])


def test_worker_errors_become_messages(folders: dict[str, str]) -> None:
    outcome = run_job(Job(folders["identity"], "no-such-task", {}))
    assert outcome.error is not None and "no-such-task" in outcome.error and not outcome.error.startswith("TaskError")
    outcome = run_job(Job(folders["identity"], TASK, {"latency": {"bogus": 1}}))  # not a user error: type named
    assert outcome.error is not None and outcome.error.startswith("ValidationError:")


def test_registry() -> None:
    assert {"local", "ray"} <= set(EXECUTORS)
    with pytest.raises(UnknownName, match="local"):
        get_executor("dask")
    with pytest.raises(ValueError, match="at least 1"):
        get_executor("local", workers=0)


def crashing_worker(job: Job) -> Outcome:
    """Module level, so spawned workers can import it: dies on 'crash', fails on 'raise', else succeeds."""
    if "crash" in job.submission:
        os._exit(3)
    if "raise" in job.submission:
        raise SystemExit("bye")  # outside run_job: reaches the pool as an exception
    return Outcome(job, result="{}")


def test_a_dying_worker_process_fails_only_its_job() -> None:
    jobs = [Job(name, TASK) for name in ("a", "crash", "b", "raise", "c")]
    outcomes: Iterator[Outcome] = LocalExecutor(workers=2, worker=crashing_worker).run(jobs)
    by_name = {o.job.submission: o for o in outcomes}
    assert set(by_name) == {"a", "crash", "b", "raise", "c"}
    assert all(by_name[n].result == "{}" for n in "abc")
    assert by_name["crash"].error is not None and "worker process died" in by_name["crash"].error
    assert by_name["raise"].error is not None and "SystemExit" in by_name["raise"].error


def test_ray_is_imported_only_by_the_ray_executor() -> None:
    code = "import sys, bench.executors, bench.cli.many; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
