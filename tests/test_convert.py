"""Conversions to ONNX and TFLite are checked against PyTorch; broken ones raise ConversionError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench.models import build_model
from bench.runtime import convert
from bench.runtime.backends.base import ConversionError
from bench.runtime.convert import BOUNDS, seeded_input, tflite_runner, to_onnx, to_tflite, torch_output
from bench.runtime.quantize import psnr_db

SHAPE = (1, 3, 24, 32)


class TinySR(nn.Module):
    """conv + ReLU + conv + PixelShuffle, x2 (the shape of ESPCN-like SR nets)."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 3 * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PaddedTransposeUp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.head(x))


def onnx_run(path: str, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def representative(images: list[np.ndarray], n: int = 3) -> list[np.ndarray]:
    return [np.ascontiguousarray(im.transpose(2, 0, 1)[None, :3], dtype=np.float32) / 255.0 for im in images[:n]]


def test_tiny_sr_torch_onnx_tflite_agree(tmp_path: Path) -> None:
    model = TinySR().eval()
    onnx_report = to_onnx(model, SHAPE, tmp_path / "sr.onnx")
    tfl_report = to_tflite(model, SHAPE, tmp_path / "sr.tflite")
    print(f"\nONNX {onnx_report.max_abs_error:.3g} ({onnx_report.seconds:.2f} s) ops {onnx_report.ops}")
    print(f"TFLite {tfl_report.max_abs_error:.3g} ({tfl_report.seconds:.2f} s) ops {tfl_report.ops}")
    assert onnx_report.dynamic_hw and (1, 3, 48, 64) in onnx_report.checked_shapes
    assert onnx_report.max_abs_error <= BOUNDS["fp32"] and tfl_report.max_abs_error <= BOUNDS["fp32"]
    assert "CONV_2D" in tfl_report.ops and "TRANSPOSE_CONV" not in tfl_report.ops
    assert tfl_report.size_bytes == (tmp_path / "sr.tflite").stat().st_size
    x = seeded_input(SHAPE, seed=7)  # a fresh input, independent of the conversion's own check
    want = torch_output(model, x)
    got_onnx = onnx_run(onnx_report.path, x)
    got_tflite = tflite_runner((tmp_path / "sr.tflite").read_bytes())(x)
    assert got_onnx.shape == got_tflite.shape == (1, 3, 48, 64)
    assert np.abs(got_onnx - want).max() < 1e-4
    assert np.abs(got_tflite - want).max() < 1e-4
    assert np.abs(got_onnx - got_tflite).max() < 1e-4
    bigger = seeded_input((1, 3, 40, 56), seed=8)  # dynamic H/W in the ONNX model
    assert np.abs(onnx_run(onnx_report.path, bigger) - torch_output(model, bigger)).max() < 1e-4


def test_identity_converts_exactly(tmp_path: Path) -> None:
    model = build_model("identity", {}, {})
    onnx_report = to_onnx(model, SHAPE, tmp_path / "id.onnx")
    tfl_report = to_tflite(model, SHAPE, tmp_path / "id.tflite")
    assert onnx_report.max_abs_error == 0.0 and tfl_report.max_abs_error == 0.0
    assert onnx_report.dynamic_hw


def test_bicubic_baseline_converts_everywhere(tmp_path: Path) -> None:
    """The bicubic baseline (fixed depthwise conv + pixel shuffle) exports with dynamic H/W and matches."""
    model = build_model("bicubic", {}, {"scale": 3})
    onnx_report = to_onnx(model, SHAPE, tmp_path / "bic.onnx")
    tfl_report = to_tflite(model, SHAPE, tmp_path / "bic.tflite")
    print(f"\nbicubic ONNX {onnx_report.max_abs_error:.3g}, TFLite {tfl_report.max_abs_error:.3g} {tfl_report.ops}")
    assert onnx_report.dynamic_hw
    assert onnx_report.max_abs_error <= 1e-4 and tfl_report.max_abs_error <= 1e-4
    assert "DEPTHWISE_CONV_2D" in tfl_report.ops and not tfl_report.notes  # converted right the first time


def test_conv_transpose_with_output_padding_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"up \(ConvTranspose2d with output_padding=\(1, 1\)"):
        to_tflite(PaddedTransposeUp(), SHAPE, tmp_path / "ct.tflite")


def test_mismatching_conversions_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = TinySR()
    with pytest.raises(ConversionError, match=r"exceeds the bound 1e-12"):
        to_onnx(model, SHAPE, tmp_path / "tight.onnx", dynamic_hw=False, bound=1e-12)

    real = convert.tflite_runner

    def off_by_a_bit(model_bytes: bytes, threads: int = 1, xnnpack: bool = False) -> Callable[[np.ndarray], np.ndarray]:
        run = real(model_bytes, threads, xnnpack)
        return lambda x: run(x) + np.float32(0.01)

    monkeypatch.setattr(convert, "tflite_runner", off_by_a_bit)
    with pytest.raises(ConversionError, match=r"TinySR disagrees with PyTorch.*max \|error\| 0\.01"):
        to_tflite(model, SHAPE, tmp_path / "off.tflite")


def test_fp16_and_int8_quantisation(tmp_path: Path, real_images: list[np.ndarray]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model = TinySR()
    reps = representative(real_images)
    fp16 = to_tflite(model, SHAPE, tmp_path / "fp16.tflite", precision="fp16", representative=reps)
    int8 = to_tflite(model, SHAPE, tmp_path / "int8.tflite", precision="int8", representative=reps)
    uint8 = to_tflite(model, SHAPE, tmp_path / "u8.tflite", precision="int8", representative=reps, uint8_io=True)
    for r in (fp16, int8, uint8):
        print(f"\n{r.precision}/{r.io_dtype}: max err {r.max_abs_error:.3g}, {r.psnr_vs_fp32_db:.1f} dB vs fp32, "
              f"{r.size_bytes} B, {r.seconds:.2f} s, ops {r.ops}")  # fmt: skip
        assert r.max_abs_error <= r.bound and r.psnr_vs_fp32_db is not None
    assert fp16.psnr_vs_fp32_db is not None and fp16.psnr_vs_fp32_db > 60 and "DEQUANTIZE" in fp16.ops
    assert int8.psnr_vs_fp32_db is not None and int8.psnr_vs_fp32_db > 30 and not int8.notes
    assert (int8.io_dtype, uint8.io_dtype) == ("int8", "uint8") and "QUANTIZE" in uint8.ops
    interp = Interpreter(model_path=uint8.path)
    assert interp.get_input_details()[0]["dtype"] == np.uint8 and interp.get_output_details()[0]["dtype"] == np.uint8
    # the uint8 interface is an exact requantisation of the int8 one
    x = reps[0][:, :, :24, :32]
    out_int8 = tflite_runner(Path(int8.path).read_bytes(), xnnpack=True)(x)
    out_uint8 = tflite_runner(Path(uint8.path).read_bytes(), xnnpack=True)(x)
    scale = interp.get_output_details()[0]["quantization"][0]
    assert np.abs(out_int8 - out_uint8).max() <= scale * 1.01
    assert psnr_db(out_uint8, torch_output(model, x)) > 30


def test_int8_without_representative_images_is_noted(tmp_path: Path) -> None:
    report = to_tflite(build_model("identity", {}, {}), SHAPE, tmp_path / "i8.tflite", precision="int8")
    assert report.notes and "random inputs" in report.notes[0]
    assert report.max_abs_error < 0.01


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="N x C x H x W"):
        to_tflite(TinySR(), (3, 24, 32), "x.tflite")
    with pytest.raises(ValueError, match="uint8_io"):
        to_tflite(TinySR(), SHAPE, "x.tflite", uint8_io=True)
    with pytest.raises(ValueError, match="cannot be cropped"):
        convert.fit_to_shape(np.zeros((3, 8, 8), np.float32), SHAPE)
