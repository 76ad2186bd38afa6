"""Keras and SavedModel submissions: converted by TensorFlow's TFLiteConverter inside the sandbox, scored on
cpu-tflite, and refused when they would run the author's Python (Lambda layers, custom objects)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.data.pipeline import iter_samples
from bench.metrics.protocol import score_image
from bench.plan import make_plan
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.submission import load_submission
from bench.tasks import get_task

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

FAST = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, stable_blocks=1, max_blocks=1)
MANIFEST = "name: {name}\nteam: tests\ntasks: [sr-set5-x2]\nformat: {format}\nfiles: {{model: {model}}}\n"


def nearest_x2() -> object:
    """A tiny SR x2 network: a 1x1 convolution set to the identity, then nearest-neighbour upsampling."""
    inputs = keras.Input(shape=(None, None, 3))
    conv = keras.layers.Conv2D(3, 1, use_bias=True)
    outputs = keras.layers.UpSampling2D(size=2, interpolation="nearest")(conv(inputs))
    model = keras.Model(inputs, outputs)
    conv.set_weights([np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3), np.zeros(3, np.float32)])
    return model


def nearest_psnr() -> float:
    """Set5 x2 of nearest-neighbour upsampling, computed with numpy (the reference the model must meet)."""
    task = get_task("sr-set5-x2")
    scores = [score_image(np.repeat(np.repeat(s.input, 2, axis=0), 2, axis=1), s.target, task.metric).psnr
              for s in iter_samples(task)]  # fmt: skip
    return float(np.mean(scores))


@pytest.mark.parametrize("fmt", ["keras", "saved_model"])
def test_a_keras_model_scores_on_set5_and_times_on_tflite(tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / fmt
    folder.mkdir()
    model = nearest_x2()
    if fmt == "keras":
        model.save(folder / "net.keras")
        name = "net.keras"
    else:
        model.export(str(folder / "net"), verbose=False)
        name = "net"
    (folder / "submission.yaml").write_text(MANIFEST.format(name=f"nearest-{fmt}", format=fmt, model=name))
    submission = load_submission(folder)
    assert submission.default_device == "cpu-tflite" and submission.manifest.layout == "NHWC"
    result = evaluate(make_plan(submission, get_task("sr-set5-x2"), latency=FAST))
    assert result.metrics.psnr == pytest.approx(nearest_psnr(), abs=1e-3)
    assert [r.device for r in result.latency] == ["cpu-tflite"]
    conversion = result.provenance.backends["cpu-tflite"]["conversion"]
    assert conversion["converted_from"] == fmt and "TFLiteConverter" in conversion["converter"]
    assert conversion["max_abs_error"] <= 1e-4
    assert result.complexity.params == 12  # the 1x1 conv's 9 weights and 3 biases, from the converted graph


def _keras_file(tmp_path: Path, config_edit: object) -> Path:
    """A .keras file whose config.json has been edited (as a hostile author would)."""
    model = nearest_x2()
    path = tmp_path / "net.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config_edit(config)  # type: ignore[operator]
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _set_layer(config: dict, **changes: object) -> None:
    config["config"]["layers"][1].update(changes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: _set_layer(c, class_name="Lambda"), "carries Python code"),
        (lambda c: _set_layer(c, module="os"), "comes from module 'os'"),
        (lambda c: _set_layer(c, registered_name="evil>Layer"), "custom object 'evil>Layer'"),
    ],
)
def test_keras_files_that_would_run_python_are_refused(tmp_path: Path, edit: object, message: str) -> None:
    from bench.errors import SubmissionError
    from bench.runtime.tf_convert import load_keras

    with pytest.raises(SubmissionError, match=message):
        load_keras(_keras_file(tmp_path, edit))


def test_a_dynamic_tflite_file_is_probed_at_the_probe_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main
    from bench.runtime import tf_convert

    model = nearest_x2()
    model.save(tmp_path / "net.keras")
    folder = tmp_path / "dynamic-tflite"
    folder.mkdir()
    (folder / "m.tflite").write_bytes(tf_convert.convert(tmp_path / "net.keras"))  # shape signature -1 x -1
    (folder / "submission.yaml").write_text(MANIFEST.format(name="dyn", format="tflite", model="m.tflite"))
    assert main(["validate", str(folder)]) == 0
    assert "probe input 1x3x48x48" in " ".join(capsys.readouterr().out.split())
