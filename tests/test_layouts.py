"""Every task family read from a tiny look-alike of its official layout; broken layouts named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.check import check_task
from bench.data.pipeline import iter_samples
from bench.tasks import Task, all_tasks, get_task
from tests import layouts

FAST_TASK_UPDATES: dict[str, object] = {}


def _with_options(task: Task, **options: object) -> Task:
    data = task.data.model_copy(update={"options": task.data.options | options})
    return task.model_copy(update={"data": data})


CASES = {
    "deblur-gopro": (layouts.gopro, 4, (48, 64, 3)),
    "deblur-reds-val300": (layouts.reds, 4, (48, 64, 3)),
    "deblur-reds-val300-jpeg": (layouts.reds, 4, (48, 64, 3)),
    "deblur-reds4": (layouts.reds, 4, (48, 64, 3)),
    "sr-div2k-x3": (layouts.div2k, 3, (16, 24, 3)),
    "sr-b100-x2": (lambda root: layouts.image_folder(root, "B100/HR"), 3, (20, 20, 3)),
    "sr-urban100-x4": (lambda root: layouts.image_folder(root, "Urban100/HR"), 3, (10, 10, 3)),
    "sr-manga109-x2": (lambda root: layouts.image_folder(root, "Manga109/HR"), 3, (20, 20, 3)),
    "denoise-cbsd68-s25": (lambda root: layouts.image_folder(root, "CBSD68"), 3, (40, 40, 3)),
    "denoise-kodak24-s15": (lambda root: layouts.image_folder(root, "Kodak24"), 3, (40, 40, 3)),
    "denoise-mcmaster-s50": (lambda root: layouts.image_folder(root, "McMaster"), 3, (40, 40, 3)),
    "denoise-set12-s25": (lambda root: layouts.image_folder(root, "Set12", grey=True), 3, (40, 40, 1)),
    "denoise-bsd68-s50": (lambda root: layouts.image_folder(root, "BSD68", grey=True), 3, (40, 40, 1)),
    "denoise-sidd-val": (layouts.sidd, 6, (32, 32, 3)),
    "inpaint-places2-nvidia-b3": (layouts.nvidia_masks, 3, (32, 32, 4)),
}


def _task(task_id: str) -> Task:
    task = get_task(task_id)
    return _with_options(task, masks_per_bin=2) if task.data.source == "nvidia-masks" else task


@pytest.mark.parametrize("task_id", sorted(CASES))
def test_fixture_layout_is_complete_and_streams(task_id: str, tmp_path: Path) -> None:
    build, count, input_shape = CASES[task_id]
    root = build(tmp_path)
    task = _task(task_id)
    report = check_task(task, root)
    assert report.complete, [str(p) for p in report.problems]
    assert report.samples == count
    samples = list(iter_samples(task, root))
    assert len(samples) == count
    first = samples[0]
    assert first.input.shape == input_shape and first.input.dtype == np.float32
    assert first.target.dtype == np.uint8
    if task.kind == "sr":
        assert first.target.shape[:2] == (input_shape[0] * task.scale, input_shape[1] * task.scale)  # type: ignore[operator]


def test_reds4_reads_only_its_four_training_clips(tmp_path: Path) -> None:
    ids = [s.id for s in iter_samples(get_task("deblur-reds4"), layouts.reds(tmp_path))]
    assert [i.split("/")[0] for i in ids] == ["000", "011", "015", "020"]


def test_gopro_uses_linear_blur_not_blur_gamma(tmp_path: Path) -> None:
    root = layouts.gopro(tmp_path)
    (root / "GOPRO_Large/test/GOPR0384_11_00/blur_gamma/000001.png").unlink()
    assert check_task(get_task("deblur-gopro"), root).complete


def test_inpainting_masks_come_from_the_bin(tmp_path: Path) -> None:
    root = layouts.nvidia_masks(tmp_path)
    for k in (1, 6):
        samples = list(iter_samples(_with_options(get_task(f"inpaint-places2-nvidia-b{k}"), masks_per_bin=2), root))
        ratios = [s.meta["hole_ratio"] for s in samples]
        assert all((k - 1) * 0.1 < r <= k * 0.1 for r in ratios), ratios
        assert all(((s.input[..., 3] == 1) == (s.input[..., :3].sum(axis=2) == 0)).all() for s in samples)


def test_grey_and_sidd_targets(tmp_path: Path) -> None:
    grey = list(iter_samples(get_task("denoise-set12-s25"), layouts.image_folder(tmp_path, "Set12", grey=True)))
    assert grey[0].target.ndim == 2
    sidd = list(iter_samples(get_task("denoise-sidd-val"), layouts.sidd(tmp_path)))
    assert [s.id for s in sidd][:2] == ["00_00", "00_01"] and sidd[0].target.shape == (32, 32, 3)


def _broken_cases(root: Path) -> dict[str, tuple[str, Path, str]]:
    seq = root / "GOPRO_Large/test/GOPR0384_11_00"
    return {
        "missing": ("deblur-gopro", seq / "sharp/000002.png", "missing target file"),
        "size": ("deblur-gopro", seq / "blur/000001.png", "size mismatch"),
        "unreadable": ("deblur-gopro", seq / "sharp/000001.png", "unreadable target"),
        "lr-size": ("sr-div2k-x3", root / "DIV2K/DIV2K_valid_LR_bicubic/X3/0802x3.png", "size mismatch"),
    }


@pytest.mark.parametrize("case", ["missing", "size", "unreadable", "lr-size"])
def test_broken_layout_names_the_file_and_problem(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layouts.gopro(tmp_path)
    layouts.div2k(tmp_path)
    task_id, path, expected = _broken_cases(tmp_path)[case]
    if case == "missing":
        path.unlink()
    elif case == "unreadable":
        path.write_bytes(path.read_bytes()[:60])  # truncated PNG
    else:
        from bench.data.images import read_image, write_image

        write_image(path, read_image(path)[:-4])
    report = check_task(get_task(task_id), tmp_path)
    assert not report.complete
    assert any(p.path == path and expected in p.message for p in report.problems), [str(p) for p in report.problems]
    code = main(["data", "check", task_id, "--data-root", str(tmp_path)])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 1 and path.name in printed and expected in printed and "Traceback" not in printed


def test_check_without_data_explains_the_layout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["data", "check", "deblur-gopro", "--data-root", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 1 and "<sequence>/blur/*.png" in printed


def test_every_task_has_a_layout_and_loads() -> None:
    tasks = all_tasks()
    assert len(tasks) >= 50
    for task in tasks.values():
        assert check_task(task, Path("/nonexistent")).layout


def test_scoring_runs_on_a_fixture_layout(tmp_path: Path) -> None:
    from bench.plan import make_plan
    from bench.runtime.protocol import LatencySettings
    from bench.scoring import evaluate
    from bench.submission import load_submission
    from tests.conftest import REPO

    fast = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, max_s=5)
    identity = load_submission(REPO / "submissions/baselines/identity")
    result = evaluate(make_plan(identity, get_task("deblur-gopro"), data_root=layouts.gopro(tmp_path), latency=fast))
    assert len(result.metrics.per_image) == 4 and 15 < result.metrics.psnr < 60
