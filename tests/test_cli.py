"""The command line: the happy path, and bad submissions -> one-paragraph error, exit 2, store unchanged."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from bench.cli import main
from bench.store import Store
from tests.conftest import REPO

BICUBIC = REPO / "submissions" / "baselines" / "bicubic"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tasks_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tasks")
    assert code == 0 and "sr-set5-x4" in out and "inpaint-demo" in out
    code, out, _ = _run(capsys, "tasks", "--kind", "denoise")
    assert code == 0 and "denoise-demo-s25" in out and "sr-set5-x4" not in out
    code, out, _ = _run(capsys, "tasks", "show", "sr-set5-x3")
    assert code == 0 and json.loads(out)["metric"]["crop_border"] == 3


def test_score_writes_json_and_store(tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str) -> None:
    out_json = tmp_path / "r.json"
    code, out, err = _run(capsys, "score", str(BICUBIC), "--task", "sr-set5-x2", "--quick", "--json", str(out_json))
    assert code == 0, err
    data = json.loads(out_json.read_text())
    assert data["task"] == "sr-set5-x2" and data["submission"]["name"] == "bicubic"
    assert abs(data["metrics"]["psnr"] - 33.66) <= 0.02
    assert "stored as result 1" in out
    assert Store(isolated_store).count() == 1


def _bad_manifest(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir(exist_ok=True)
    (folder / "submission.yaml").write_text(text)
    return folder


GOOD = "name: x\nteam: t\ntasks: [denoise-demo-s25]\nformat: safetensors\narchitecture: {name: identity}\n"

CASES = {
    "missing folder": (lambda p: p / "nope", "submission folder not found"),
    "no manifest": (lambda p: (p / "empty").mkdir() or p / "empty", "has no submission.yaml"),
    "empty manifest": (lambda p: _bad_manifest(p, ""), "empty or not a mapping"),
    "not yaml": (lambda p: _bad_manifest(p, "name: [unclosed"), "not valid YAML"),
    "unknown key": (lambda p: _bad_manifest(p, GOOD + "speed: fast\n"), "unknown key 'speed'"),
    "wrong format": (lambda p: _bad_manifest(p, GOOD.replace("safetensors", "keras")), "format"),
    "unknown architecture": (
        lambda p: _bad_manifest(p, GOOD.replace("identity", "resnet-magic")),
        "unknown architecture",
    ),
    "path escapes": (
        lambda p: _bad_manifest(p, GOOD + "files: {weights: ../outside.safetensors}\n"),
        "must be relative and stay inside",
    ),
    "missing weights": (lambda p: _bad_manifest(p, GOOD + "files: {weights: model.safetensors}\n"), "does not exist"),
    "task not declared": (
        lambda p: _bad_manifest(p, GOOD.replace("denoise-demo-s25", "sr-set5-x2")),
        "does not declare",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_submission_gives_exit_2_and_stores_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    make, expected = CASES[case]
    folder = make(tmp_path)
    db_file = Path(isolated_store.removeprefix("sqlite:///"))
    code, _, err = _run(capsys, "score", str(folder), "--task", "denoise-demo-s25", "--quick")
    assert code == 2
    assert expected in " ".join(err.split()), err
    assert err.strip().startswith("error:") and "Traceback" not in err
    assert not db_file.exists()  # nothing written: the store is not even created


def test_pickle_presented_as_weights_is_refused_without_running_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return os.system, (f"touch {marker}",)

    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    (folder / "submission.yaml").write_text(
        "name: p\nteam: t\ntasks: [denoise-demo-s25]\nformat: safetensors\n"
        "architecture: {name: test-scaled}\nfiles: {weights: model.safetensors}\n"
    )
    code, _, err = _run(capsys, "score", str(folder), "--task", "denoise-demo-s25", "--quick")
    assert code == 2 and "not a readable safetensors file" in err
    assert not marker.exists()


def test_unknown_task_and_missing_data_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    code, _, err = _run(capsys, "score", str(BICUBIC), "--task", "sr-set9-x2")
    assert code == 2 and "unknown task 'sr-set9-x2'" in err
    code, _, err = _run(capsys, "score", str(BICUBIC), "--task", "sr-set14-x2", "--data-root", str(tmp_path))
    assert code == 2 and "Set14/HR" in err
    assert not Path(isolated_store.removeprefix("sqlite:///")).exists()


def test_validate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "validate", str(BICUBIC))
    assert code == 0 and "sr-set5-x4" in out


def test_devices(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "devices")
    assert code == 0 and "cpu-torch" in out


def test_a_model_failing_mid_run_gives_exit_2_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    """A run that fails for good after some images were stored is removed whole: its scores, crops and
    the submission row no other run uses; the user sees one paragraph, no traceback."""
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "submission.yaml").write_text(
        "name: late\nteam: t\ntasks: [denoise-demo-s25]\nformat: safetensors\narchitecture: {name: test-fails-late}\n"
    )
    code, _, err = _run(capsys, "score", str(folder), "--task", "denoise-demo-s25", "--quick")
    assert code == 2 and "Traceback" not in err and err.strip().startswith("error:")
    assert "failed on denoise-demo-s25: TypeError: the second image broke the model" in " ".join(err.split())
    store = Store(isolated_store)
    with store.engine.connect() as connection:
        counts = {t: connection.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar()
                  for t in ("runs", "image_scores", "samples", "submissions")}  # fmt: skip
    assert counts == {"runs": 0, "image_scores": 0, "samples": 0, "submissions": 0}


def test_output_files_and_missing_baselines_are_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_store: str
) -> None:
    json_path = tmp_path / "new" / "folder" / "r.json"  # a missing folder is made
    code, _, _ = _run(capsys, "score", str(BICUBIC), "--task", "sr-set5-x2", "--quick", "--json", str(json_path))
    assert code == 0 and json.loads(json_path.read_text())["task"] == "sr-set5-x2"
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code, _, err = _run(capsys, "score", str(BICUBIC), "--task", "sr-set5-x2", "--quick", "--json",
                        str(blocked / "r.json"))  # fmt: skip
    assert code == 2 and "cannot write" in err and "Traceback" not in err
    code, _, err = _run(capsys, "challenge", "ntire2024-esr", str(BICUBIC), "--quick")
    assert code == 2 and "give --baseline" in err


def test_score_on_two_devices_prints_both(capsys: pytest.CaptureFixture[str], isolated_store: str) -> None:
    from tests.conftest import REPO

    argv = ["score", str(REPO / "submissions/baselines/identity"), "--task", "denoise-demo-s25", "--quick",
            "--device", "cpu-torch", "--device", "cpu-onnxruntime"]  # fmt: skip
    assert main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "cpu-" in line]
    assert len(rows) == 2 and "cpu-torch" in rows[0] and "cpu-onnxruntime" in rows[1], rows
