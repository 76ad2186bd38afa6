"""What a submitter declares about the file (io.layout, io.colour, io.range) and the ONNX -> TFLite bridge."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.plan import make_plan
from bench.runtime.convert import TO_NCHW, TO_NHWC, Permuted, to_onnx
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.submission import load_submission
from bench.tasks import get_task
from tests.conftest import REPO

FAST = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)
FSRCNN = REPO / "submissions/reference/fsrcnn-x2"


class Scaled(nn.Module):
    """``net`` taking and returning [0, 255] values."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0) * 255.0


def Channels(net: nn.Module) -> nn.Module:
    """``net`` on NHWC tensors (as a TensorFlow-made network is)."""
    return Permuted(net, TO_NCHW, TO_NHWC)


def _submit(folder: Path, module: nn.Module, shape: tuple[int, ...], io: str, external: bool = False) -> Path:
    folder.mkdir(parents=True)
    if external:  # torch.onnx.export's default: the weights in model.onnx.data beside the graph
        dims = {i: torch.export.Dim.AUTO for i in range(1, 4) if shape[i] != 3 and shape[i] != 1}
        torch.onnx.export(module.eval(), (torch.rand(shape),), str(folder / "model.onnx"), dynamo=True,
                          dynamic_shapes=(dims,))  # fmt: skip
    else:
        to_onnx(module, shape, folder / "model.onnx")
    (folder / "submission.yaml").write_text(
        f"name: {folder.name}\nteam: tests\ntasks: [sr-set5-x2, denoise-demo-s25]\nformat: onnx\n"
        f"files: {{model: model.onnx}}\nio: {io}\n"
    )
    return folder


def test_a_y_channel_fsrcnn_scores_as_its_rgb_wrapped_twin(tmp_path: Path) -> None:
    wrapped = load_submission(FSRCNN)
    luma_net = wrapped.model({"scale": 2}).net  # the paper's network: one channel (MATLAB Y) in and out
    twin = evaluate(make_plan(wrapped, get_task("sr-set5-x2"), devices=[]))
    folder = _submit(tmp_path / "fsrcnn-y", luma_net, (1, 1, 48, 48), "{colour: Y}")
    result = evaluate(make_plan(load_submission(folder), get_task("sr-set5-x2"), latency=FAST))
    # bench joins the model's Y with the input's bicubic chroma, as the twin's LumaSR wrapper does
    assert result.metrics.psnr == pytest.approx(twin.metrics.psnr, abs=1e-4)
    assert result.metrics.ssim == pytest.approx(twin.metrics.ssim, abs=1e-6)
    assert result.latency[0].input_shape == (1, 3, 360, 640)  # the task's shape; the model ran 1 x 1 x 360 x 640
    # from the graph: the learned weights and one scalar constant of the export
    assert result.complexity.params == pytest.approx(sum(p.numel() for p in luma_net.parameters()), rel=0.01)


def test_nhwc_and_0_255_onnx_files_score_as_their_nchw_twin(tmp_path: Path) -> None:
    net = load_submission(REPO / "submissions/baselines/bicubic").model({"scale": 2})
    plain = evaluate(make_plan(load_submission(_submit(tmp_path / "plain", net, (1, 3, 48, 48), "{}")),
                               get_task("sr-set5-x2"), latency=FAST))  # fmt: skip
    folder = _submit(tmp_path / "nhwc", Scaled(Channels(net)), (1, 48, 48, 3), "{layout: NHWC, range: [0, 255]}",
                     external=True)  # fmt: skip
    other = evaluate(make_plan(load_submission(folder), get_task("sr-set5-x2"), latency=FAST))
    assert other.metrics.psnr == pytest.approx(plain.metrics.psnr, abs=1e-3)
    assert other.complexity.macs == plain.complexity.macs


def test_a_wrong_layout_is_named_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = load_submission(REPO / "submissions/baselines/bicubic").model({"scale": 2})
    folder = _submit(tmp_path / "nhwc", Channels(net), (1, 48, 48, 3), "{}", external=True)  # NHWC, NCHW declared
    assert main(["validate", str(folder)]) != 0
    assert "set io.layout: NHWC in submission.yaml" in " ".join(capsys.readouterr().out.replace("│", " ").split())


def test_an_exported_onnx_model_times_on_onnxruntime_and_tflite(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.PReLU(16), nn.Conv2d(16, 12, 3, padding=1),
                        nn.PixelShuffle(2))  # fmt: skip
    folder = _submit(tmp_path / "user-sr", net, (1, 3, 64, 64), "{}", external=True)
    assert (folder / "model.onnx.data").is_file()
    devices = ["cpu-onnxruntime", "cpu-tflite", "cpu-tflite-fp16"]
    result = evaluate(make_plan(load_submission(folder), get_task("sr-set5-x2"), devices=devices, latency=FAST))
    assert [r.device for r in result.latency] == devices
    errors = {d: result.provenance.backends[d]["conversion"]["max_abs_error"] for d in devices[1:]}
    assert errors["cpu-tflite"] <= 1e-4 and errors["cpu-tflite-fp16"] <= 1e-2
    assert result.complexity.macs == 360 * 640 * (16 * 27 + 12 * 144)


def test_bench_latency_prints_each_conversion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2))
    folder = _submit(tmp_path / "user-sr", net, (1, 3, 64, 64), "{}", external=True)
    argv = ["latency", str(folder), "--device", "cpu-onnxruntime", "--device", "cpu-tflite", "--quick",
            "--shape", "1,3,64,64", "--task", "sr-set5-x2"]  # fmt: skip
    assert main(argv) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "cpu-tflite: converted from onnx by onnx2torch" in shown and "max |error| vs the original" in shown


def test_a_device_that_cannot_take_the_format_is_reported_not_fatal(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(3, 3, 1))
    folder = _submit(tmp_path / "resize", net, (1, 3, 64, 64), "{}", external=True)
    plan = make_plan(load_submission(folder), get_task("sr-set5-x2"), devices=["cpu-onnxruntime", "cpu-torch"],
                     latency=FAST)  # fmt: skip
    result = evaluate(plan)
    assert [r.device for r in result.latency] == ["cpu-onnxruntime"]
    assert "no converter takes onnx to it" in result.provenance.backends["cpu-torch"]["not_measured"]


def test_an_nchw_tflite_file_runs_when_declared_and_is_named_when_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import litert_torch

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()
    task = get_task("denoise-demo-s25")  # 256 x 256 images: one fixed-shape file scores them all
    folder = tmp_path / "nchw"
    folder.mkdir()
    litert_torch.convert(net, (torch.rand(task.latency.input_shape),)).export(str(folder / "m.tflite"))  # NCHW
    manifest = f"name: nchw\nteam: tests\ntasks: [{task.id}]\nformat: tflite\nfiles: {{model: m.tflite}}\n"
    (folder / "submission.yaml").write_text(manifest)
    assert main(["validate", str(folder)]) != 0
    shown = " ".join(capsys.readouterr().out.replace("│", " ").split())  # the message wraps inside a table cell
    assert "which is NCHW with 3 channel(s), but the submission declares io.layout NHWC; set io.layout: NCHW" in shown
    (folder / "submission.yaml").write_text(manifest + "io: {layout: NCHW}\n")
    result = evaluate(make_plan(load_submission(folder), task, latency=FAST))
    twin = evaluate(make_plan(load_submission(_submit(tmp_path / "onnx", net, (1, 3, 64, 64), "{}")), task,
                              latency=FAST))  # fmt: skip
    assert result.metrics.psnr == pytest.approx(twin.metrics.psnr, abs=1e-3)
