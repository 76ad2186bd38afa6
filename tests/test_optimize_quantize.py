"""``bench optimize quantize``: portable int8 ranges, the quantised-submission rules, fake quantisation
against a hand computation, and a tiny trained EDSR quantised and scored end to end (no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from bench.cli import main
from bench.models import build_model
from bench.optimize.qat import FakeQuantWeight, attach, detach
from bench.optimize.quantize import mirrored_to
from bench.plan import make_plan
from bench.runtime.convert import tflite_runner, to_tflite, torch_output
from bench.runtime.devices import get_device
from bench.runtime.quantize import calibrate_int8, quantize_int8, ranges_from_json, ranges_to_json
from bench.scoring import ScoringError, quantized_profiles
from bench.submission import SubmissionError, load_submission


def tiny_edsr() -> Any:  # an EDSR module (attribute access to its layers)
    torch.manual_seed(0)
    return build_model("edsr-baseline", {"scale": 2, "n_resblocks": 2, "n_feats": 16}, {}).eval()


def _quant_params(model: bytes) -> dict[str, tuple[float, int]]:
    """Every int8 activation tensor's (scale, zero point), by name, read back from the flatbuffer."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model)
    return {
        t["name"]: (float(t["quantization"][0]), int(t["quantization"][1]))
        for t in interp.get_tensor_details()
        if np.dtype(t["dtype"]) == np.int8 and t["quantization"][0] != 0.0 and len(t["shape"]) == 4
        and t["shape"][0] == 1 and "weight" not in t["name"].lower()
    }  # fmt: skip


def test_ranges_survive_json_and_quantise_another_shape_identically(tmp_path: Path) -> None:
    """Ranges calibrated at 24x28 give the 20x36 model the same scale and zero point on every activation
    as the 24x28 model has, and its output stays close to PyTorch's on an in-range input."""
    model = tiny_edsr()
    rng = np.random.default_rng(0)
    small = (1, 3, 24, 28)
    fp32_small = Path(to_tflite(model, small, tmp_path / "a.tflite").path).read_bytes()
    inputs = [rng.random((1, 24, 28, 3), dtype=np.float32) for _ in range(3)]
    ranges = ranges_from_json(json.loads(json.dumps(ranges_to_json(calibrate_int8(fp32_small, inputs)))))
    int8_small = quantize_int8(fp32_small, ranges=ranges)
    other = (1, 3, 20, 36)
    fp32_other = Path(to_tflite(model, other, tmp_path / "b.tflite").path).read_bytes()
    int8_other = quantize_int8(fp32_other, ranges=ranges)
    a, b = _quant_params(int8_small), _quant_params(int8_other)
    assert len(a) >= 5 and a == b
    x = rng.random(other, dtype=np.float32)
    assert np.abs(tflite_runner(int8_other)(x) - torch_output(model, x)).max() < 0.1


def test_ranges_from_json_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="min above max"):
        ranges_from_json({"t": {"min": [1.0], "max": [0.0]}})
    with pytest.raises(ValueError, match="need 'min' and 'max'"):
        ranges_from_json({"t": {"min": [0.0]}})
    with pytest.raises(ValueError, match="non-empty"):
        ranges_from_json({})


def test_mirrored_to_crops_or_mirrors_to_the_shape() -> None:
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3)  # NHWC: H 2, W 3, C 3
    y = mirrored_to(x, (1, 3, 4, 1))
    assert y.shape == (1, 3, 4, 1)
    np.testing.assert_array_equal(y[0, 0, :, 0], x[0, [0, 0, 1, 1], 1, 0])  # H mirrored 0|0 1|1, W centre column


def test_fake_quantised_weights_lie_on_the_per_channel_int8_grid() -> None:
    """Hand computation: scale_c = max|w_c| / 127, q = round(w / scale_c) in [-127, 127], w' = q * scale_c."""
    w = torch.randn(4, 3, 3, 3)
    scale = w.abs().amax(dim=(1, 2, 3)) / 127
    want = torch.round(w / scale[:, None, None, None]).clamp(-127, 127) * scale[:, None, None, None]
    torch.testing.assert_close(FakeQuantWeight(0)(w), want, rtol=0, atol=1e-6)
    w.requires_grad_(True)
    FakeQuantWeight(0)(w).sum().backward()
    assert w.grad is not None and torch.all(w.grad == 1)  # straight-through estimator


def test_attach_then_detach_restores_the_plain_module() -> None:
    model, x = tiny_edsr(), torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        clean = model(x)
        handles = attach(model)
        noisy = model(x)
        detach(model, handles)
        again = model(x)
    assert not torch.equal(clean, noisy) and (clean - noisy).abs().max() < 0.1
    torch.testing.assert_close(again, clean, rtol=0, atol=0)
    assert "weight" in dict(model.head.named_parameters())


def _rewrite(folder: Path, **changes: object) -> None:
    manifest = yaml.safe_load((folder / "submission.yaml").read_text())
    manifest.update(changes)
    (folder / "submission.yaml").write_text(yaml.safe_dump(manifest))


def test_quantize_int8_end_to_end(sr_baseline: Path, train_folder: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A trained tiny EDSR, calibrated on training crops, written as an int8 submission and scored on
    Set5 on cpu-tflite-int8 against its fp32 self on cpu-tflite."""
    out = tmp_path / "int8"
    argv = ["optimize", "quantize", str(sr_baseline), "--task", "sr-set5-x2", "--precision", "int8", "--out",
            str(out), "--data", str(train_folder), "--calibration-images", "2", "--calibration-crop", "48",
            "--uint8-io"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "cpu-tflite-int8" in printed and "quantised submission" in printed
    report = json.loads((out / "quantize-report.json").read_text())
    fp32, int8 = report["fp32"], report["quantized"]
    baseline_torch = load_submission(sr_baseline)  # the fp32 conversion is exact: its score is PyTorch's
    from bench.scoring import evaluate
    from bench.tasks import get_task

    torch_psnr = evaluate(make_plan(baseline_torch, get_task("sr-set5-x2"), ["cpu-torch"])).metrics.psnr
    assert abs(fp32["psnr"] - torch_psnr) < 0.01
    assert int8["device"] == "cpu-tflite-int8" and int8["psnr"] != fp32["psnr"] and abs(int8["psnr"] - fp32["psnr"]) < 2
    assert report["calibration_images"] == ["img1.png", "img2.png"]  # the last photos, held out of any fine-tune
    new = load_submission(out)
    assert new.manifest.precision == "int8" and new.manifest.derived_from == baseline_torch.manifest.name
    assert new.default_device == "cpu-tflite-int8" and new.quantization_ranges()
    deployable = (out / "model-int8.tflite").read_bytes()
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_content=deployable).get_input_details()[0]
    assert list(detail["shape"]) == [1, 360, 640, 3] and np.dtype(detail["dtype"]) == np.uint8
    with pytest.raises(ScoringError, match="runs on TFLite int8 profiles"):
        quantized_profiles(new, [get_device("cpu-torch")])
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err


def test_qat_and_fp16_without_scoring(sr_baseline: Path, train_folder: Path, tmp_path: Path) -> None:
    common = ["--task", "sr-set5-x2", "--data", str(train_folder), "--calibration-images", "1",
              "--calibration-crop", "48", "--no-score"]  # fmt: skip
    qat = tmp_path / "qat"
    assert main(["optimize", "quantize", str(sr_baseline), "--precision", "int8", "--qat-steps", "3",
                 "--qat-lr", "1e-3", "--out", str(qat), *common]) == 0  # fmt: skip
    record = json.loads((qat / "quantize-report.json").read_text())["qat"]
    assert record["steps"] == 3 and np.isfinite(record["simulated_int8_psnr_after"])
    before = load_submission(sr_baseline).build({"scale": 2}).state_dict()
    after = load_submission(qat).build({"scale": 2}).state_dict()
    assert set(before) == set(after) and any(not torch.equal(before[k], after[k]) for k in before)
    fp16 = tmp_path / "fp16"
    assert main(["optimize", "quantize", str(sr_baseline), "--precision", "fp16", "--out", str(fp16), *common]) == 0
    sub = load_submission(fp16)
    assert sub.manifest.precision == "fp16" and sub.default_device == "cpu-tflite-fp16"
    assert not (fp16 / "quantization.json").exists() and (fp16 / "model-fp16.tflite").is_file()


def test_bad_requests_get_clear_errors(sr_baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["optimize", "quantize", str(sr_baseline), "--task", "sr-set5-x2", "--out", str(tmp_path / "x")]
    assert main([*base, "--precision", "fp16", "--qat-steps", "2"]) == 2
    assert "for int8" in capsys.readouterr().err
    assert main([*base, "--precision", "fp16", "--uint8-io"]) == 2
    assert "--uint8-io needs --precision int8" in capsys.readouterr().err
    assert main([*base, "--task", "denoise-demo-s25", "--precision", "int8"]) == 2
    assert "does not declare task" in capsys.readouterr().err


def test_manifest_rules_for_quantised_safetensors(sr_baseline: Path) -> None:
    _rewrite(sr_baseline, precision="int8")
    with pytest.raises(SubmissionError, match=r"files\.quantization"):
        load_submission(sr_baseline)
    _rewrite(sr_baseline, precision="fp16")
    assert load_submission(sr_baseline).default_device == "cpu-tflite-fp16"
    (sr_baseline / "q.json").write_text("{}")
    _rewrite(sr_baseline, precision="int8", files={"weights": "model.safetensors", "quantization": "q.json"})
    with pytest.raises(SubmissionError, match="not valid int8 ranges"):
        load_submission(sr_baseline).quantization_ranges()


def test_cli_calibration_defaults_are_the_settings_defaults() -> None:
    from bench.cli import build_parser
    from bench.optimize.quantize import QuantizeSettings

    args = build_parser().parse_args(["optimize", "quantize", "folder", "--task", "sr-set5-x2", "--precision", "int8"])
    defaults = QuantizeSettings(precision="int8")
    assert (args.calibration_images, args.calibration_crop) == (defaults.calibration_images, defaults.calibration_crop)
