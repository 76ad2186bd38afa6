"""Reported results (reported/*.yaml): schema, sanity, agreement with the tasks' own references, the board's
view of them, and a submission that declares the reported model it reproduces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bench.errors import SubmissionError, TaskError
from bench.reported import REPORTED_DIR, load_file, reported_entries, reported_entry, sane_range
from bench.results import Result
from bench.submission import load_submission
from bench.tasks import all_tasks, get_task
from tests.conftest import REPO

# the method names the tasks' reference lists use for models the reported files know by id
TASK_REFERENCE_NAMES = {"FSRCNN": "fsrcnn", "CARN": "carn", "IMDN": "imdn", "RFDN": "rfdn", "DnCNN": "cdncnn-b",
                        "FFDNet": "cffdnet"}  # fmt: skip


def test_every_file_is_valid_and_at_least_20_models_are_reported() -> None:
    files = sorted(REPORTED_DIR.glob("*.yaml"))
    assert {f.stem for f in files} >= {"sr", "denoise", "other"}
    for path in files:
        load_file(path)  # the schema, registered tasks, the scale, the sane range
    entries = reported_entries()
    assert len({e.model for e in entries}) >= 20
    for entry in entries:
        low, high = sane_range(entry.task)
        assert low <= entry.psnr <= high, entry
        assert entry.paper and entry.source and (entry.ssim is None or 0 < entry.ssim <= 1)
    families = {get_task(e.task).kind for e in entries}
    assert families >= {"sr", "denoise", "deblur", "lowlight"}


def test_reported_numbers_agree_with_the_tasks_own_references() -> None:
    """Two places in the project hold published numbers: the task files' reference lists and reported/*.yaml."""
    checked = 0
    for task in all_tasks().values():
        for reference in task.references:
            model = TASK_REFERENCE_NAMES.get(reference.method)
            entry = reported_entry(model, task.id) if model else None
            if entry is None:
                continue
            assert entry.psnr == pytest.approx(reference.psnr, abs=1e-9), (task.id, reference.method)
            if reference.ssim is not None:
                assert entry.ssim == pytest.approx(reference.ssim, abs=1e-9), (task.id, reference.method)
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["scales"][0]["results"][0].update(task="sr-nowhere-x2"), "unknown task"),
        (lambda m: m["scales"][0]["results"][0].update(psnr=12.0), "outside the sane range"),
        (lambda m: m["scales"][0].update(scale=3), "is x2, listed under x3"),
        (lambda m: m.pop("macs_output"), "MACs need macs_output"),
        (lambda m: m.update(id="Bad Id"), "string should match pattern"),
    ],
)
def test_a_broken_file_is_refused_with_the_reason(tmp_path: Path, change: object, message: str) -> None:
    data = yaml.safe_load((REPORTED_DIR / "sr.yaml").read_text())
    model = next(m for m in data["models"] if m["id"] == "fsrcnn")
    change(model)  # type: ignore[operator]
    path = tmp_path / "sr.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TaskError, match=f"(?i){message}"):
        load_file(path)


def test_macs_are_scaled_to_the_tasks_input_for_the_board() -> None:
    from leaderboards import charts, frames

    x2, x4 = frames.reported_frame("sr-set5-x2"), frames.reported_frame("sr-set5-x4")
    fsrcnn2, fsrcnn4 = (f[f["model"] == "FSRCNN"].iloc[0] for f in (x2, x4))
    assert fsrcnn2["macs_g"] == pytest.approx(6.0)  # 360x640 in, 720x1280 out: the papers' own size
    assert fsrcnn4["macs_g"] == pytest.approx(4.6 * 4)  # 1440x2560 out: four times the pixels
    assert list(frames.reported_table(x2).columns) == frames.REPORTED_COLUMNS
    measured = frames.board_frame([])
    spec = charts.quality_cost_chart(measured, "psnr", "macs_g", x2).to_dict()
    squares = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "square"]
    assert len(squares) == 1 and squares[0]["mark"]["filled"] is False  # distinct markers, never on the front
    latency = charts.quality_cost_chart(measured, "psnr", "median_ms", x2).to_dict()
    assert not [layer for layer in latency["layer"] if layer.get("mark", {}).get("type") == "square"]


def test_a_submission_that_reproduces_a_paper_shows_measured_minus_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import main

    folder = tmp_path / "my-fsrcnn"
    shutil.copytree(REPO / "submissions/reference/fsrcnn-x2", folder)
    manifest = yaml.safe_load((folder / "submission.yaml").read_text())
    manifest.update(name="my-fsrcnn", team="a lab", tags=["trained"], reproduces="fsrcnn")
    (folder / "submission.yaml").write_text(yaml.safe_dump(manifest))
    argv = ["score", str(folder), "--task", "sr-set5-x2", "--quick", "--db", str(tmp_path / "r.db"),
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert main(argv) == 0
    shown = " ".join(capsys.readouterr().out.split())
    result = Result.model_validate_json((tmp_path / "r.json").read_text())
    assert result.submission.reproduces == "fsrcnn"
    delta = result.metrics.psnr - 37.00
    assert "reproduces FSRCNN" in shown and f"measured - reported = {delta:+.3f} dB" in shown
    manifest["reproduces"] = "fsrcnn-v9"
    (folder / "submission.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(SubmissionError, match=r"is not a reported model; known: .*fsrcnn"):
        load_submission(folder)
