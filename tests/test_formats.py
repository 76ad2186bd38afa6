"""ONNX and TFLite submissions, manifest format rules, and bench validate's probe checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from bench.cli import main
from bench.models import build_model
from bench.plan import make_plan
from bench.runtime.convert import to_onnx, to_tflite
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.submission import SubmissionError, load_submission
from bench.tasks import get_task
from tests.conftest import REPO

FAST = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)


def _manifest(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "submission.yaml").write_text("name: t\nteam: tests\n" + body)
    return folder


def test_onnx_submission_scores_like_the_torch_baseline(tmp_path: Path) -> None:
    folder = tmp_path / "bicubic-onnx"
    folder.mkdir()
    to_onnx(build_model("bicubic", {}, {"scale": 2}), (1, 3, 64, 64), folder / "model.onnx")
    _manifest(folder, "tasks: [sr-set5-x2]\nformat: onnx\nfiles: {model: model.onnx}\n")
    result = evaluate(make_plan(load_submission(folder), get_task("sr-set5-x2"), latency=FAST))
    reference = evaluate(
        make_plan(load_submission(REPO / "submissions/baselines/bicubic"), get_task("sr-set5-x2"), latency=FAST)
    )
    assert result.latency[0].device == "cpu-onnxruntime" and result.submission.format == "onnx"
    assert result.metrics.psnr == pytest.approx(reference.metrics.psnr, abs=1e-3)
    # counted from the graph as PyTorch counts the module (the bicubic kernel is a constant the file holds)
    assert result.complexity.macs == reference.complexity.macs
    assert result.complexity.conv_traffic_bytes == reference.complexity.conv_traffic_bytes


def test_tflite_submission_scores_on_its_own_runtime(tmp_path: Path) -> None:
    folder = tmp_path / "identity-tflite"
    folder.mkdir()
    to_tflite(build_model("identity", {}, {}), (1, 3, 256, 256), folder / "model.tflite")
    _manifest(folder, "tasks: [denoise-demo-s25]\nformat: tflite\nfiles: {model: model.tflite}\n")
    result = evaluate(make_plan(load_submission(folder), get_task("denoise-demo-s25"), latency=FAST))
    assert result.latency[0].device == "cpu-tflite"
    assert result.metrics.psnr == pytest.approx(20.535, abs=0.01)  # identity on sigma-25 noise


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("format: onnx\n", "needs files.model naming a .onnx file"),
        ("format: onnx\nfiles: {model: model.tflite}\n", "needs files.model naming a .onnx file"),
        ("format: tflite\nfiles: {model: m.tflite}\narchitecture: {name: identity}\n", "remove 'architecture'"),
        ("format: safetensors\n", "needs 'architecture'"),
    ],
)
def test_format_rules(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        load_submission(_manifest(tmp_path / "s", "tasks: [denoise-demo-s25]\n" + body))


@pytest.mark.parametrize(
    ("fault", "check"),
    [("scale", "output scale"), ("nan", "finite output"), ("shape", "output shape"), ("random", "deterministic")],
)
def test_validate_reports_each_fault(
    fault: str, check: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / fault
    folder.mkdir()
    save_file({"w": torch.ones(1)}, str(folder / "w.safetensors"))
    arch = f"architecture: {{name: test-faulty, args: {{fault: {fault}}}}}\n"
    _manifest(folder, "tasks: [denoise-demo-s25]\nformat: safetensors\n" + arch + "files: {weights: w.safetensors}\n")
    assert main(["validate", str(folder)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"denoise-demo-s25: {check}" in err and "Traceback" not in err


def test_validate_passes_the_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPO / "submissions/baselines/identity")]) == 0
    assert "every check passed" in capsys.readouterr().out


def test_torch_export_submission_scores_end_to_end(tmp_path: Path) -> None:
    model = build_model("identity", {}, {})
    dims = {2: torch.export.Dim("H", min=16, max=1024), 3: torch.export.Dim("W", min=16, max=1024)}
    program = torch.export.export(model, (torch.rand(1, 3, 64, 64),), dynamic_shapes=(dims,))
    folder = tmp_path / "identity-pt2"
    folder.mkdir()
    torch.export.save(program, str(folder / "model.pt2"))
    _manifest(folder, "tasks: [denoise-demo-s25]\nformat: torch-export\nfiles: {model: model.pt2}\n")
    result = evaluate(make_plan(load_submission(folder), get_task("denoise-demo-s25"), latency=FAST))
    assert result.latency[0].device == "cpu-torch" and result.submission.format == "torch-export"
    assert result.metrics.psnr == pytest.approx(20.535, abs=0.01)


def test_separate_timing_model_is_what_latency_measures(tmp_path: Path) -> None:
    """A track submission: a dynamic ONNX quality model and a fixed-shape ONNX timing model."""
    folder = tmp_path / "two-models"
    folder.mkdir()
    identity = build_model("identity", {}, {})
    to_onnx(identity, (1, 3, 64, 64), folder / "quality.onnx")
    to_onnx(identity, (1, 3, 256, 256), folder / "timing.onnx", dynamic_hw=False)
    _manifest(
        folder, "tasks: [denoise-demo-s25]\nformat: onnx\nfiles: {model: quality.onnx, timing_model: timing.onnx}\n"
    )
    submission = load_submission(folder)
    result = evaluate(make_plan(submission, get_task("denoise-demo-s25"), latency=FAST))
    assert submission.timing_model() == folder / "timing.onnx"
    assert result.metrics.psnr == pytest.approx(20.535, abs=0.01) and result.latency[0].input_shape == (1, 3, 256, 256)
    with pytest.raises(SubmissionError, match="timing_model must be a file of the submission's own format"):
        load_submission(
            _manifest(tmp_path / "bad", "tasks: [x]\nformat: onnx\nfiles: {model: q.onnx, timing_model: t.tflite}\n")
        )


class _Scale(nn.Module):
    """A 1x1 conv (3 -> 3) with a known weight, so the scores depend on the external data's bytes."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).reshape(3, 3, 1, 1) * gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _external_onnx(folder: Path, gain: float) -> Path:
    """An ONNX submission whose weights live in ``model.onnx.data`` (external data, as torch's exporter
    writes for large models)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    to_onnx(_Scale(gain), (1, 3, 32, 32), folder / "inline.onnx")
    model = onnx.load(str(folder / "inline.onnx"))
    (folder / "inline.onnx").unlink()
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)  # fmt: skip
    _manifest(folder, "tasks: [denoise-demo-s25]\nformat: onnx\nfiles: {model: model.onnx}\n")
    return folder


def test_the_hash_covers_onnx_external_data(tmp_path: Path) -> None:
    """Changing only the external weights file changes the submission's hash (so the store never returns a
    result of the old weights as 'already scored'), and the scores follow the new weights."""
    first = load_submission(_external_onnx(tmp_path / "a", 1.0))
    assert (first.folder / "model.onnx.data").stat().st_size >= 9 * 4  # the weights really are external
    other = _external_onnx(tmp_path / "b", 0.5)
    (first.folder / "model.onnx.data").write_bytes((other / "model.onnx.data").read_bytes())  # weights swapped
    second = load_submission(first.folder)
    assert second.sha256 != first.sha256
    task = get_task("denoise-demo-s25")
    darker = evaluate(make_plan(second, task, latency=FAST)).metrics.psnr
    identity = evaluate(make_plan(load_submission(REPO / "submissions/baselines/identity"), task, latency=FAST))
    assert darker < identity.metrics.psnr - 3  # half the intensity scores far below the identity
    (first.folder / "outside.data").symlink_to(tmp_path / "b" / "model.onnx.data")
    with pytest.raises(SubmissionError, match="leaves the submission folder"):
        load_submission(first.folder)
