"""The ONNX Runtime and TFLite backends: NCHW float32 in / out, settings honoured, conversions cached."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench.runtime.backends import BACKENDS, ConversionError, RunSettings, onnx_backend, tflite_backend
from bench.runtime.convert import TO_NCHW, TO_NHWC, Permuted, seeded_input, to_onnx, to_tflite, torch_output
from bench.runtime.devices import get_device
from tests.test_convert import SHAPE, TinySR, representative

OTHER = (1, 3, 16, 20)


def test_backends_registered_and_available() -> None:
    for name, suffix in (("onnxruntime", ".onnx"), ("tflite", ".tflite")):
        ok, detail = BACKENDS[name].available()
        print(f"\n{name}: {detail}")
        assert ok and BACKENDS[name].file_suffixes == (suffix,)
    assert BACKENDS["onnxruntime"] is onnx_backend.OnnxBackend
    ref = get_device("cpu-tflite-ref", threads=1).open()
    assert isinstance(ref, tflite_backend.TFLiteBackend) and ref.settings.options["xnnpack"] is False


def test_onnx_backend_dynamic_module_and_file(tmp_path: Path) -> None:
    module = TinySR()
    loaded = onnx_backend.OnnxBackend(RunSettings(threads=2)).load_module(module)
    assert isinstance(loaded, onnx_backend.OnnxModel)
    for shape in (SHAPE, OTHER):
        x = seeded_input(shape, seed=3)
        assert np.abs(loaded.run(x) - torch_output(module, x)).max() < 1e-4
    info = loaded.describe()
    assert info["threads"] == 2 and info["inter_op_threads"] == 1 and info["dynamic_hw"] is True
    assert len(loaded.reports) == 1 and info["ops"] == ["Conv", "DepthToSpace", "Relu"]
    loaded.timer(OTHER)()

    report = to_onnx(module, SHAPE, tmp_path / "sr.onnx")
    from_file = onnx_backend.OnnxBackend(RunSettings(threads=1)).load_file(Path(report.path))
    x = seeded_input(OTHER, seed=4)
    assert np.abs(from_file.run(x) - torch_output(module, x)).max() < 1e-4
    assert from_file.describe()["file"] == "sr.onnx"


class WidthRamp(nn.Module):
    """A weight computed in numpy from the input's width: a dynamic export bakes it in and fails."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.from_numpy(np.linspace(0.5, 1.5, int(x.shape[-1])).astype(np.float32))


def test_onnx_backend_falls_back_to_static_exports_per_shape() -> None:
    module = WidthRamp()
    loaded = onnx_backend.OnnxBackend(RunSettings(threads=1)).load_module(module)
    assert isinstance(loaded, onnx_backend.OnnxModel)
    for shape in (SHAPE, OTHER, SHAPE):
        x = seeded_input(shape, seed=5)
        assert np.abs(loaded.run(x) - torch_output(module, x)).max() < 1e-4
    assert [r.input_shape for r in loaded.reports] == [SHAPE, OTHER]
    assert loaded.describe()["dynamic_hw"] is False


def test_onnx_backend_is_fp32_only() -> None:
    with pytest.raises(ConversionError, match="fp32 only"):
        onnx_backend.OnnxBackend(RunSettings(precision="int8")).load_module(TinySR())


def test_tflite_xnnpack_on_off_and_per_shape_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = tflite_backend.to_tflite

    def counting(module: nn.Module, shape: tuple[int, ...], *args: object, **kwargs: object) -> object:
        calls.append(tuple(shape))
        return real(module, shape, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tflite_backend, "to_tflite", counting)
    module = TinySR()
    on = tflite_backend.TFLiteBackend(RunSettings(threads=2, options={"xnnpack": True})).load_module(module)
    off = tflite_backend.TFLiteBackend(RunSettings(threads=1, options={"xnnpack": False})).load_module(module)
    assert isinstance(on, tflite_backend.TFLiteModel) and isinstance(off, tflite_backend.TFLiteModel)
    x = seeded_input(SHAPE, seed=6)
    want = torch_output(module, x)
    y_on, y_off = on.run(x), off.run(x)
    print(f"\nvs torch: xnnpack {np.abs(y_on - want).max():.3g}, reference kernels {np.abs(y_off - want).max():.3g}")
    assert np.abs(y_on - want).max() < 1e-4 and np.abs(y_off - want).max() < 1e-4 and np.abs(y_on - y_off).max() < 1e-4
    on.run(seeded_input(SHAPE, seed=7))  # same shape: cached
    assert on.conversions == 1
    x2 = seeded_input(OTHER, seed=8)
    assert np.abs(on.run(x2) - torch_output(module, x2)).max() < 1e-4  # new shape: converted
    on.timer(OTHER)()
    assert on.conversions == 2 and calls == [SHAPE, SHAPE, OTHER]  # (off converted SHAPE once too)
    d_on, d_off = on.describe(), off.describe()
    assert (d_on["threads"], d_on["xnnpack"], d_on["delegate_applied"]) == (2, True, True)
    assert (d_off["threads"], d_off["xnnpack"], d_off["delegate_applied"]) == (1, False, False)
    assert d_on["precision"] == "fp32" and "CONV_2D" in d_on["ops"] and len(d_on["conversions"]) == 2


def test_tflite_int8_uint8_io_through_backend(real_images: list[np.ndarray]) -> None:
    module = TinySR()
    reps = representative(real_images)
    settings = RunSettings(threads=1, precision="int8", options={"uint8_io": True, "representative": reps})
    loaded = tflite_backend.TFLiteBackend(settings).load_module(module)
    assert isinstance(loaded, tflite_backend.TFLiteModel)
    x = reps[1][:, :, 40:64, 40:72]
    y = loaded.run(x)
    assert y.dtype == np.float32 and y.shape == (1, 3, 48, 64)
    assert np.abs(y - torch_output(module, x)).max() < 0.25
    info = loaded.describe()
    print(f"\nint8 uint8-io: {info['conversions'][0]['psnr_vs_fp32_db']:.1f} dB vs fp32")
    assert info["io_dtype"] == "uint8" and info["conversions"][0]["psnr_vs_fp32_db"] > 30


def test_tflite_load_file_static_and_dynamic(tmp_path: Path) -> None:
    module = TinySR()
    report = to_tflite(module, SHAPE, tmp_path / "static.tflite")
    backend = tflite_backend.TFLiteBackend(RunSettings(threads=1))
    static = backend.load_file(Path(report.path))
    x = seeded_input(SHAPE, seed=9)
    assert np.abs(static.run(x) - torch_output(module, x)).max() < 1e-4
    with pytest.raises(ConversionError, match="static NHWC input"):
        static.run(seeded_input(OTHER))
    assert static.describe()["file"] == "static.tflite"

    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    import litert_torch

    torch.manual_seed(1)
    convs = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()
    dims = {1: torch.export.Dim("h", min=2, max=4096), 2: torch.export.Dim("w", min=2, max=4096)}
    sample = torch.rand(1, 24, 32, 3)
    litert_torch.convert(Permuted(convs, TO_NCHW, TO_NHWC).eval(), (sample,), dynamic_shapes=(dims,)).export(
        str(tmp_path / "dyn.tflite")
    )
    dynamic = backend.load_file(tmp_path / "dyn.tflite")
    for shape in (SHAPE, OTHER):
        x = seeded_input(shape, seed=10)
        assert np.abs(dynamic.run(x) - torch_output(convs, x)).max() < 1e-4


def test_scoring_on_quantised_tflite_with_calibration() -> None:
    """int8 / fp16 profiles score through the same pipeline; calibration uses a training-side folder."""
    from bench.data.sources import EMBEDDED_ROOT
    from bench.plan import make_plan
    from bench.runtime.calibration import calibration_images
    from bench.runtime.protocol import LatencySettings
    from bench.scoring import evaluate
    from bench.submission import load_submission
    from bench.tasks import get_task
    from tests.conftest import REPO

    train = EMBEDDED_ROOT / "Set5" / "HR"  # not the demo task's images: stands in for CSun_Hays80
    images = calibration_images(train, (1, 3, 32, 32), count=3)
    assert len(images) == 3 and images[0].shape == (1, 3, 32, 32) and images[0].dtype == np.float32
    fast = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)
    identity = load_submission(REPO / "submissions/baselines/identity")
    task = get_task("denoise-demo-s25")
    reference = evaluate(make_plan(identity, task, latency=fast))
    int8 = evaluate(make_plan(identity, task, ("cpu-tflite-int8",), latency=fast, quality_device="cpu-tflite-int8",
                              calibration=train))  # fmt: skip
    assert int8.latency[0].precision == "int8" and int8.provenance.backends["cpu-tflite-int8"]["precision"] == "int8"
    assert abs(int8.metrics.psnr - reference.metrics.psnr) < 1.0  # quantisation costs little on identity
