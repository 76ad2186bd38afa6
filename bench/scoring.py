"""evaluate(plan) -> Result: the computation every score runs (it writes nothing).

task -> samples (streamed) -> model on the reference backend -> uint8 -> metrics per image ->
latency on each requested device -> complexity -> Result with provenance. Nothing is written
here; storing is the caller's choice (:mod:`bench.store`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from torch import nn

from bench.budgets import guard_for
from bench.data.pipeline import Sample, data_folder, iter_samples
from bench.errors import ScoringError
from bench.metrics.lpips import LPIPS, try_load_lpips
from bench.metrics.protocol import OutputShapeError, score_image
from bench.metrics.quantize import NonFiniteOutput, to_uint8
from bench.plan import Plan, result_info
from bench.provenance import environment
from bench.results import Complexity, ImageResult, Metrics, Provenance, Result
from bench.runtime.calibration import calibration_images
from bench.runtime.complexity import count_complexity, file_complexity
from bench.runtime.devices import Device, get_device
from bench.runtime.errors import ConversionError
from bench.runtime.io_contract import model_shape
from bench.runtime.latency import load_on, measure_on
from bench.samples import SampleCrops, make_crops
from bench.submission import QUANTIZED_DEVICE, Submission
from bench.tasks import Task

Progress = Callable[[str, int], None]


class Checkpoint(Protocol):
    """Where per-image scores (and the first images' sample crops) go as they are computed (the store's
    RunHandle), and what is done."""

    done: dict[str, ImageResult]

    def record(self, position: int, image: ImageResult, sample: SampleCrops | None = None) -> None: ...


def quantized_profiles(submission: Submission, devices: list[Device]) -> list[Device]:
    """A quantised safetensors submission (fp16 / int8) runs only on TFLite profiles of its precision,
    int8 with its own stored activation ranges; any other submission's profiles are returned as they are."""
    if not submission.quantized:
        return devices
    precision = submission.manifest.precision
    wrong = [d.id for d in devices if d.backend != "tflite" or d.settings.precision != precision]
    if wrong:
        raise ScoringError(
            f"submission {submission.manifest.name!r} is {precision} (quantised from its fp32 weights): it runs on "
            f"TFLite {precision} profiles such as {QUANTIZED_DEVICE[precision]}, not on {', '.join(wrong)}"
        )
    ranges = submission.quantization_ranges()
    return [d.with_quantization(ranges) for d in devices] if ranges is not None else devices


def _to_nchw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


def _from_nchw(batch: np.ndarray) -> np.ndarray:
    return batch[0].transpose(1, 2, 0)


def _complexity(model: nn.Module | Path, loaded: object, shape: tuple[int, ...], layout: str) -> Complexity:
    """Counted from the module, the ONNX / TFLite file, or the TFLite file a converter made of it (Keras)."""
    if not isinstance(model, Path):
        return count_complexity(model, shape)
    colour = getattr(loaded, "colour", "RGB")
    own = model_shape(shape, colour)
    converted = getattr(loaded, "converted", None)  # a Keras model or SavedModel: TensorFlow's TFLite file
    if converted is not None:
        return file_complexity(converted.file_for(own), own, "NHWC")
    return file_complexity(model, own, layout)


def _crops(sample: Sample, output: np.ndarray, task: Task, position: int) -> SampleCrops:
    """The sample crops of one scored image (see :mod:`bench.samples`)."""
    return make_crops(sample.input, output, sample.target, task.size_ratio, image_id=sample.id, position=position)


def evaluate(
    plan: Plan,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
    model: nn.Module | Path | None = None,
) -> Result:
    """Score ``plan.submission`` on ``plan.task`` (run on the quality device) and measure its latency on
    each of ``plan.devices``; ``model`` is the submission's model when the caller has built it already.

    With ``plan.cache_root``, samples are read from (and on first use written to) the ``datasets``
    cache there: byte-identical to the streamed pipeline, memory-mapped, much faster to re-read.
    With ``checkpoint``, each image's scores are handed over as soon as they exist, and images
    the checkpoint already has are not run again (resume), and the images at positions below
    ``plan.samples`` hand over their crops too (:func:`bench.samples.make_crops`: input, output and
    target windows as PNGs, for the leaderboard's visual comparison; 0 for none). Only the crops
    are kept, never whole images. Nothing is written here.
    """
    submission, task, settings, limits, data_root = (
        plan.submission,
        plan.task,
        plan.latency,
        plan.limits,
        plan.data_root,
    )
    started = datetime.now(UTC)
    clock = time.perf_counter()
    resolved = [get_device(d) for d in plan.devices]
    quality = get_device(plan.quality_device)
    if plan.calibration is not None:  # int8 profiles calibrate on training-side images, never the test set
        images = calibration_images(plan.calibration, task.latency.input_shape)
        resolved = [d.with_calibration(images) for d in resolved]
        quality = quality.with_calibration(images)
    quality, *resolved = quantized_profiles(submission, [quality, *resolved])
    folder = data_folder(task, data_root)
    if model is None:
        model = submission.model({"scale": task.scale})
    io = submission.manifest.contract
    reference = load_on(quality, model, io)
    ghost = submission.ghost({"scale": task.scale}) if isinstance(model, nn.Module) else None
    guard = guard_for(submission.manifest.name, model, ghost, limits, io)

    metric: LPIPS | None = None
    lpips_note: str | None = "not part of this task's protocol"
    if task.metric.lpips:
        metric, lpips_note = try_load_lpips(plan.lpips_weights)

    per_image: list[ImageResult] = []
    if plan.cache_root is not None:  # samples from the Hugging Face datasets cache (made on first use)
        from bench.data.cache import iter_cached

        stream = iter_cached(task, data_root, plan.cache_root)
    else:
        stream = iter_samples(task, data_root)
    for position, sample in enumerate(stream):
        if checkpoint is not None and sample.id in checkpoint.done:  # scored before an interruption
            per_image.append(checkpoint.done[sample.id])
            continue
        batch = _to_nchw(sample.input)
        guard.check(batch.shape)  # over a budget: refused before the model runs
        start = time.perf_counter()
        output = _from_nchw(reference.run(batch))
        elapsed = time.perf_counter() - start
        if elapsed > limits.per_image_s:
            raise ScoringError(
                f"submission {submission.manifest.name!r} took {elapsed:.3g} s on image {sample.id!r}, over the "
                f"per-image limit of {limits.per_image_s:g} s"
            )
        try:
            score = score_image(output, sample.target, task.metric)
            lp = metric(to_uint8(output), sample.target) if metric is not None else None
        except (OutputShapeError, NonFiniteOutput) as exc:
            raise ScoringError(f"submission {submission.manifest.name!r} on image {sample.id!r}: {exc}") from exc
        image = ImageResult(id=sample.id, psnr=score.psnr, ssim=score.ssim, lpips=lp, extra=score.extra)
        if checkpoint is not None:
            crops = _crops(sample, output, task, position) if position < plan.samples else None
            checkpoint.record(position, image, crops)
        per_image.append(image)
        if progress:
            progress(sample.id, len(per_image))
        if time.perf_counter() - clock > limits.total_s:
            raise ScoringError(f"the quality run exceeded the whole-run limit of {limits.total_s:g} s")
    if not per_image:
        raise ScoringError(f"task {task.id} found no images in {folder}")

    shape = plan.latency_shape  # a challenge track times its own shape
    timing = submission.timing_model()  # a track's fixed-shape timing model, when given
    if resolved:
        (guard_for(submission.manifest.name, timing, None, limits, io) if timing else guard).check(tuple(shape))
    measured = []
    descriptions: dict[str, dict[str, object]] = {f"quality:{plan.quality_device}": reference.describe()}
    for device in resolved:  # a device that cannot take this format is reported, the others still measured
        try:
            latency_result, descriptions[device.id] = measure_on(device, timing or model, shape, settings, io)
        except ConversionError as exc:
            descriptions[device.id] = {"not_measured": str(exc)}
            continue
        measured.append(latency_result)
    if resolved and not measured:
        reasons = "; ".join(f"{d.id}: {descriptions[d.id]['not_measured']}" for d in resolved)
        raise ScoringError(f"no device could time submission {submission.manifest.name!r}: {reasons}")
    lpips_values = [r.lpips for r in per_image if r.lpips is not None]
    env = environment()
    return Result(
        task=task.id,
        task_version=task.version,
        submission=result_info(submission),
        metrics=Metrics(
            psnr=float(np.mean([r.psnr for r in per_image])),
            ssim=float(np.mean([r.ssim for r in per_image])),
            lpips=float(np.mean(lpips_values)) if metric is not None else None,
            lpips_note=None if metric is not None else lpips_note,
            per_image=per_image,
            extra={name: float(np.mean([r.extra[name] for r in per_image])) for name in task.metric.extra},
        ),
        latency=measured,
        complexity=_complexity(model, reference, shape, io.layout or "NCHW"),
        provenance=Provenance(
            **{k: env[k] for k in ("bench_version", "python", "torch", "host", "platform")},
            git_commit=env["git_commit"],
            backends=descriptions,
            started_at=started.isoformat(timespec="seconds"),
            duration_s=round(time.perf_counter() - clock, 3),
            data_folder=str(folder),
            latency_settings=settings.model_dump(),
            run_key=plan.key,
        ),
    )
