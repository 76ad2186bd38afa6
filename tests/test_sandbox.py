"""The sandbox: a submitted model runs in a child process under hard limits, and a breach is a one-paragraph
error, exit 2, with the store as it was and the time bounded."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from bench.cli import main
from bench.store import Store
from tests.conftest import REPO

TASK = "denoise-demo-s25"


def _submission(root: Path, arch: str) -> Path:
    folder = root / "sub"
    folder.mkdir()
    (folder / "submission.yaml").write_text(
        f"name: hostile\nteam: t\ntasks: [{TASK}]\nformat: safetensors\narchitecture: {arch}\n"
    )
    return folder


def _score(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, float]:
    start = time.monotonic()
    code = main(["score", *argv, "--task", TASK, "--quick"])
    return code, " ".join(capsys.readouterr().err.split()), time.monotonic() - start


def _empty(url: str) -> bool:
    with Store(url).engine.connect() as connection:
        return all(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() == 0
                   for t in ("runs", "image_scores", "samples", "submissions"))  # fmt: skip


def test_a_model_that_never_returns_is_stopped_at_the_per_image_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    folder = _submission(tmp_path, "{name: test-hangs}")
    code, err, seconds = _score(capsys, str(folder), "--image-limit", "4")
    assert code == 2 and err.startswith("error:") and "Traceback" not in err
    assert "within the per-image limit of 4 s; its process was stopped" in err
    assert seconds < 60  # bounded: the child is killed, not waited for
    assert _empty(isolated_store)


def test_memory_over_the_limit_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    folder = _submission(tmp_path, "{name: test-hungry, args: {gib: 6}}")
    code, err, _ = _score(capsys, str(folder), "--memory-limit", "3G")
    assert code == 2 and "Traceback" not in err
    assert "over the memory limit of 3 GiB" in err
    assert _empty(isolated_store)


def test_the_model_has_no_network_and_the_limits_are_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """A model that can reach a listening port on this machine would return all ones; in the sandbox it
    cannot, so it scores exactly as the identity does."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        folder = _submission(tmp_path, f"{{name: test-phones-home, args: {{port: {port}}}}}")
        assert main(["score", str(folder), "--task", TASK, "--quick", "--json", str(tmp_path / "r.json")]) == 0
    finally:
        server.close()
    result = json.loads((tmp_path / "r.json").read_text())
    identity = tmp_path / "identity.json"
    assert main(["score", str(REPO / "submissions/baselines/identity"), "--task", TASK, "--quick", "--json",
                 str(identity)]) == 0  # fmt: skip
    assert result["metrics"]["psnr"] == json.loads(identity.read_text())["metrics"]["psnr"]
    sandbox = result["provenance"]["sandbox"]
    assert sandbox["network"] == "none (own namespace)" and sandbox["memory_bytes"] == 16 * 2**30
    assert sandbox["submission_files"] == "read-only (bind mount in its own namespace)"
    assert sandbox["per_image_s"] == 300.0 and sandbox["threads"] == 2


def test_bench_latency_runs_the_model_in_the_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bench latency` on a model that never returns: stopped at its time limit, exit 2; the task comes from
    the manifest, which declares exactly one."""
    folder = _submission(tmp_path, "{name: test-hangs}")
    start = time.monotonic()
    assert main(["latency", str(folder), "--device", "cpu-torch", "--quick", "--time-limit", "3"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    # its forward loops on any input wider than 48: on the meta device too, so costing the call never ends
    assert "did not finish costing one call at 1x3x256x256 within the time limit of 3 s; its process was stopped" in err
    assert "Traceback" not in err and time.monotonic() - start < 60
