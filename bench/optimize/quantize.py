"""``bench optimize quantize``: TFLite fp16 / int8 post-training quantisation of a safetensors submission.

The representative data comes from the training side, never a test set: the baseline's recipe
names the training photos and the degradation. The last ``calibration_images`` photos (name
order) are centre-cropped to ``calibration_crop`` clean pixels and degraded as in training
(:class:`~bench.optimize.finetune.TrainingSide`); their model inputs calibrate the int8
activation ranges. With ``qat_steps`` the weights are first fine-tuned through int8 fake
quantisation (:mod:`bench.optimize.qat`) on the other training photos.

int8 calibration converts the module to an fp32 TFLite model at the calibration input shape and
records every activation tensor's min / max (ai-edge-quantizer). The ranges are keyed by tensor
name, and litert-torch names the tensors the same at every input shape, so one set of ranges
quantises the model for every test image's size and for the fixed timing shape identically.

The new folder is a submission of the same architecture and fp32 weights with ``precision``
fp16 or int8; int8 also names its ranges (``quantization.json``). Scoring runs it through TFLite
at that precision (``cpu-tflite-fp16`` / ``cpu-tflite-int8``, with the stored ranges). The folder
also holds ``model-<precision>.tflite``: the deployable static model at the task's latency shape
(uint8 I/O with ``uint8_io``), and ``quantize-report.json`` with the PSNR / SSIM and latency of the
baseline on ``cpu-tflite`` next to the quantised model's, on the task's own data and protocol.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch import nn

from bench.optimize.finetune import TrainingSide
from bench.optimize.lightweight import OptimizeError, baseline_recipe, load_baseline
from bench.optimize.methods import Event, Progress, Report, Table
from bench.optimize.options import QuantizeOptions
from bench.plan import make_plan
from bench.recording import record_run
from bench.results import Result
from bench.runtime.convert import to_tflite
from bench.runtime.protocol import QUICK, LatencySettings
from bench.runtime.quantize import Ranges, calibrate_int8, ranges_to_json
from bench.submission import Submission, SubmissionError, load_submission
from bench.submission_writer import MODEL_CARD, WEIGHTS, Weights, manifest_of, write_submission
from bench.tasks import Task, get_task
from bench.training.export import RECIPE_FILE

REPORT_FILE = "quantize-report.json"
RANGES_FILE = "quantization.json"
QuantPrecision = Literal["fp16", "int8"]


@dataclass(frozen=True)
class QuantizeSettings:
    precision: QuantPrecision
    # 40 photos x 640 px: with 16 x 256 px crops the ranges missed the darkest and brightest Y values of
    # Set5 and int8 FSRCNN lost 1.80 dB to clipping; 40 x 640 lost 0.49 (docs/optimize.md, benchmarks/int8_scope.py)
    calibration_images: int = 40  # training photos held out for calibration
    calibration_crop: int = 640  # clean pixels of each calibration crop (the model input is this / the size ratio)
    uint8_io: bool = False  # int8: the deployable file takes and returns uint8 (the Mobile AI rule)
    qat_steps: int = 0  # quantisation-aware fine-tuning steps before calibration (0: post-training only)
    qat_lr: float = 1e-5


@dataclass
class QuantizeOutcome:
    folder: Path
    report: dict[str, Any]


def calibration_inputs(side: TrainingSide) -> list[np.ndarray]:
    """The held-out training crops' model inputs, NHWC float32 (1 x H x W x C), for int8 calibration."""
    return [np.ascontiguousarray(s.input[None], np.float32) for s in side.validation.samples]


def mirrored_to(x_nhwc: np.ndarray, shape_nchw: tuple[int, ...]) -> np.ndarray:
    """An NHWC input as NCHW ``shape_nchw``: centre-cropped where larger, mirrored (symmetric padding) where
    smaller, so that small calibration crops can check a model converted for a large timing shape."""
    x = np.transpose(x_nhwc, (0, 3, 1, 2))[:1]
    _, _, h, w = shape_nchw
    for axis, size in ((2, h), (3, w)):
        if x.shape[axis] >= size:
            start = (x.shape[axis] - size) // 2
            x = np.take(x, range(start, start + size), axis=axis)
        else:
            before = (size - x.shape[axis]) // 2
            pad = [(0, 0)] * 4
            pad[axis] = (before, size - x.shape[axis] - before)
            x = np.pad(x, pad, mode="symmetric")
    return np.ascontiguousarray(x, np.float32)


def calibrate_module(model: nn.Module, inputs_nhwc: list[np.ndarray]) -> Ranges:
    """int8 activation ranges of ``model`` over ``inputs_nhwc`` (all of one shape) through its fp32 TFLite graph."""
    _, h, w, c = inputs_nhwc[0].shape
    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as tmp:
        report = to_tflite(model, (1, c, h, w), Path(tmp) / "fp32.tflite", "fp32")
        fp32 = Path(report.path).read_bytes()
    return calibrate_int8(fp32, inputs_nhwc)


def _check_baseline(folder: str | Path, task: Task) -> Submission:
    baseline = load_baseline(folder, task)
    manifest = baseline.manifest
    if manifest.format != "safetensors" or manifest.architecture is None:
        raise OptimizeError(f"{baseline.folder}: quantisation needs a registered architecture with safetensors weights")
    if manifest.precision != "fp32":
        raise OptimizeError(f"{baseline.folder} is already {manifest.precision}; quantise its fp32 parent instead")
    return baseline


def _score(submission: Submission, task: Task, device: str, data_root: Path | None, latency: LatencySettings) -> Result:
    plan = make_plan(submission, task, [device], quality_device=device, latency=latency, data_root=data_root)
    return record_run(plan, None).result


def _row(result: Result) -> dict[str, Any]:
    lat = result.latency[0]
    return {"device": lat.device, "psnr": result.metrics.psnr, "ssim": result.metrics.ssim,
            "latency_ms": lat.median_ms, "latency_shape": list(lat.input_shape)}  # fmt: skip


def run_quantize(
    baseline_folder: str | Path,
    task_id: str,
    out: Path,
    settings: QuantizeSettings,
    *,
    name: str | None = None,
    recipe_path: str | Path | None = None,
    data_folder: Path | None = None,
    data_root: Path | None = None,
    score: bool = True,
    latency: LatencySettings = QUICK,
    force: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> QuantizeOutcome:
    """Quantise ``baseline_folder`` for ``task_id`` into the new submission ``out`` (see the module docstring)."""
    if settings.uint8_io and settings.precision != "int8":
        raise OptimizeError("--uint8-io needs --precision int8")
    if settings.qat_steps and settings.precision != "int8":
        raise OptimizeError("quantisation-aware fine-tuning (--qat-steps) is for int8; fp16 needs none")
    if out.exists() and not force:
        raise OptimizeError(f"{out} already exists; choose another --out or pass --force to replace it")
    task = get_task(task_id)
    baseline = _check_baseline(baseline_folder, task)
    recipe = baseline_recipe(baseline, recipe_path)
    model = baseline.build({"scale": task.scale}).eval()
    side = TrainingSide.from_recipe(recipe, data_folder, settings.calibration_images, settings.calibration_crop)
    say(f"calibration: {len(side.held_out)} training photos, {settings.calibration_crop}px crops, "
        f"degraded as in {recipe.name}'s training")  # fmt: skip
    qat: dict[str, Any] | None = None
    if settings.qat_steps:
        from bench.optimize.qat import quantization_aware_finetune

        say(f"quantisation-aware fine-tuning: {settings.qat_steps} steps at lr {settings.qat_lr:g}")
        qat = quantization_aware_finetune(model, side, settings.qat_steps, settings.qat_lr)
    inputs = calibration_inputs(side)
    ranges = calibrate_module(model, inputs) if settings.precision == "int8" else None
    folder = _write(baseline, model, ranges, task, out, name, settings)
    shape = tuple(task.latency.input_shape)
    deployable = folder / f"model-{settings.precision}.tflite"
    say(f"deployable model: {deployable.name} at {'x'.join(map(str, shape))}")
    conversion = to_tflite(model, shape, deployable, settings.precision, [mirrored_to(x, shape) for x in inputs[:4]],
                           uint8_io=settings.uint8_io, ranges=ranges)  # fmt: skip
    report: dict[str, Any] = {
        "baseline": str(baseline.folder), "baseline_name": baseline.manifest.name, "task": task.id,
        "settings": asdict(settings), "calibration_images": list(side.held_out),
        "deployable": {"file": deployable.name, "input_shape": list(shape), "bytes": conversion.size_bytes,
                       "io_dtype": conversion.io_dtype, "psnr_vs_fp32_db": conversion.psnr_vs_fp32_db},
        "qat": qat,
    }  # fmt: skip
    if score:
        new = load_submission(folder)
        say(f"scoring {baseline.manifest.name} on cpu-tflite and the {settings.precision} model on "
            f"{new.default_device} ({task.id})")  # fmt: skip
        report["fp32"] = _row(_score(baseline, task, "cpu-tflite", data_root, latency))
        report["quantized"] = _row(_score(new, task, new.default_device, data_root, latency))
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    (folder / MODEL_CARD).write_text(model_card(load_submission(folder).manifest.name, report))
    return QuantizeOutcome(folder, report)


def _write(
    baseline: Submission, model: nn.Module, ranges: Ranges | None, task: Task, out: Path, name: str | None,
    settings: QuantizeSettings,
) -> Path:  # fmt: skip
    files: dict[str, str] = {"weights": WEIGHTS}
    texts: dict[str, str] = {}
    if ranges is not None:
        texts[RANGES_FILE] = json.dumps(ranges_to_json(ranges)) + "\n"
        files["quantization"] = RANGES_FILE
    how = "post-training" if not settings.qat_steps else f"quantisation-aware ({settings.qat_steps} steps)"
    try:
        manifest = manifest_of({
            "name": name or f"{baseline.manifest.name}-{settings.precision}", "files": files,
            "precision": settings.precision, "derived_from": baseline.manifest.name,
            "tags": list(dict.fromkeys([*baseline.manifest.tags, "quantized", settings.precision])),
            "description": f"{baseline.manifest.name}, TFLite {settings.precision} ({how}) by bench optimize quantize.",
        }, base=baseline.manifest)  # fmt: skip
        write_submission(out, manifest, Weights.of(model.state_dict(), {"derived_from": baseline.manifest.name}),
                         texts=texts, copies={RECIPE_FILE: baseline.folder / RECIPE_FILE},
                         task_values={"scale": task.scale})  # fmt: skip
    except SubmissionError as exc:
        raise OptimizeError(f"the written submission does not load: {exc}") from exc
    return out


def _change(before: float, after: float, unit: str, digits: int) -> str:
    return f"{after - before:+.{digits}f}{unit}"


def model_card(name: str, report: dict[str, Any]) -> str:
    s, d = report["settings"], report["deployable"]
    lines = [
        f"# {name}",
        "",
        f"`{report['baseline_name']}` quantised to TFLite {s['precision']} by `bench optimize quantize` "
        f"for `{report['task']}`.",
        "",
        f"* calibration: {len(report['calibration_images'])} training photos (never a test set), "
        f"{s['calibration_crop']} px centre crops degraded as in training",
        f"* quantisation-aware fine-tuning: {s['qat_steps']} steps" if s["qat_steps"] else "* post-training only",
        f"* deployable model: `{d['file']}`, input {'x'.join(map(str, d['input_shape']))} "
        f"({d['io_dtype']} I/O, {d['bytes']:,} bytes)",
    ]
    if "fp32" in report:
        a, b = report["fp32"], report["quantized"]
        lines += [
            "",
            "| | fp32 (cpu-tflite) | quantised | change |",
            "|---|---|---|---|",
            f"| PSNR (dB) | {a['psnr']:.3f} | {b['psnr']:.3f} | {_change(a['psnr'], b['psnr'], ' dB', 3)} |",
            f"| SSIM | {a['ssim']:.4f} | {b['ssim']:.4f} | {_change(a['ssim'], b['ssim'], '', 4)} |",
            f"| latency (ms, median, {'x'.join(map(str, a['latency_shape']))}) | {a['latency_ms']:.1f} | "
            f"{b['latency_ms']:.1f} ({b['device']}) | {(b['latency_ms'] / a['latency_ms'] - 1) * 100:+.1f} % |",
        ]
    lines += ["", f"Score it with `bench score <this folder> --task {report['task']}` (it runs on TFLite "
              f"{s['precision']}).", ""]  # fmt: skip
    return "\n".join(lines)


def optimize(options: QuantizeOptions, progress: Progress) -> Report:
    """``bench optimize quantize`` (see :mod:`bench.optimize.methods`)."""
    settings = QuantizeSettings(
        precision=options.precision, calibration_images=options.calibration_images,
        calibration_crop=options.calibration_crop, uint8_io=options.uint8_io, qat_steps=options.qat_steps,
        qat_lr=options.qat_lr,
    )  # fmt: skip
    outcome = run_quantize(
        options.baseline, options.task, options.out or Path("runs") / f"{options.baseline.name}-{options.precision}",
        settings, name=options.name, recipe_path=options.recipe, data_folder=options.data, data_root=options.data_root,
        score=not options.no_score, force=options.force, say=lambda line: progress(Event("quantize", line)),
    )  # fmt: skip
    report = Report(folder=outcome.folder, data=outcome.report)
    if "fp32" in outcome.report:
        a, b = outcome.report["fp32"], outcome.report["quantized"]
        table = Table(f"{outcome.report['baseline_name']} -> {options.precision} on {outcome.report['task']}",
                      ["", "device", "PSNR (dB)", "SSIM", "latency (ms)"])  # fmt: skip
        for label, row in (("fp32", a), ("quantized", b)):
            table.rows.append([label, row["device"], f"{row['psnr']:.3f}", f"{row['ssim']:.4f}",
                               f"{row['latency_ms']:.1f}"])  # fmt: skip
        table.rows.append(["change", "", f"{b['psnr'] - a['psnr']:+.3f}", f"{b['ssim'] - a['ssim']:+.4f}",
                           f"{(b['latency_ms'] / a['latency_ms'] - 1) * 100:+.1f} %"])  # fmt: skip
        report.tables.append(table)
    report.lines.append(f"quantised submission: {outcome.folder} (report: {outcome.folder / REPORT_FILE})")
    return report
