"""The training loop: seeded, deterministic on CPU, resumable, logged as JSON lines.

``train(recipe, options)`` builds the model from the registry (seeded), samples (input, target)
pairs with :mod:`bench.training.data`, optimises with Adam(W) under the recipe's schedule, logs
``metrics.jsonl`` (one JSON object per line: training loss every ``log_every`` steps, validation
PSNR/SSIM every ``validation.every`` steps), writes a checkpoint every ``checkpoint_every`` steps
and at the last step of the session, and when the schedule is complete exports a submission
folder (:mod:`bench.training.export`).

Determinism: the learning rate is a pure function of the step; sample i depends only on (seed, i);
on CPU ``torch.use_deterministic_algorithms`` is on during the run. So an interrupted run resumed
from its checkpoint ends with the same bytes as an uninterrupted one (on the same machine and
thread count). CUDA runs use cuDNN autotuning and are not bit-reproducible.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.utils.data import DataLoader

from bench.errors import TrainingError
from bench.models import build_model
from bench.tasks import Task
from bench.training.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint
from bench.training.data import ImageCache, PatchDataset, PatchSampler, batch_indices
from bench.training.init import InitError, load_initial_weights
from bench.training.progress import Progress
from bench.training.recipe import OptimizerSpec, Recipe, ScheduleSpec, training_folder
from bench.training.validate import ValidationSet, evaluate, load_validation

METRICS_LOG = "metrics.jsonl"
RECIPE_COPY = "recipe.yaml"


@dataclass
class TrainOptions:
    out_dir: Path
    resume: bool = False
    stop_after: int | None = None  # end the session (with a checkpoint) once this many steps are done
    data_folder: Path | None = None  # overrides the recipe's / $BENCH_TRAIN_DATA
    data_root: Path | None = None  # data root for the validation task (default $BENCH_DATA / embedded)
    workers: int | None = None
    export: bool = True
    command: str | None = None  # the command line, for the model card
    progress: Progress | None = None


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    total_steps: int
    wall_s: float
    loss: float | None
    validation: dict[str, float] | None
    checkpoint: Path | None
    submission: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            "device cuda was asked for, but torch sees no CUDA GPU (torch.cuda.is_available() is False)"
        )
    return torch.device(choice)


def lr_factor(schedule: ScheduleSpec, step: int) -> float:
    """Multiplier of the base lr at 0-based ``step``: linear warm-up, then constant, cosine or step decay."""
    if step < schedule.warmup_steps:
        return (step + 1) / schedule.warmup_steps
    if schedule.kind == "step":
        return float(schedule.gamma ** sum(step >= m for m in schedule.milestones))
    if schedule.kind == "cosine":
        progress = (step - schedule.warmup_steps) / (schedule.steps - schedule.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0


def learning_rate(spec: OptimizerSpec, schedule: ScheduleSpec, step: int) -> float:
    factor = lr_factor(schedule, step)
    if schedule.kind == "cosine" and step >= schedule.warmup_steps:
        return schedule.min_lr + (spec.lr - schedule.min_lr) * factor
    return spec.lr * factor


_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "charbonnier": lambda out, target: torch.sqrt((out - target) ** 2 + 1e-6).mean(),  # eps = 1e-3
}
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)  # MATLAB rgb2ycbcr on [0, 1] input, / 255


def luma(image: torch.Tensor) -> torch.Tensor:
    """MATLAB's Y of N x 3 x H x W RGB in [0, 1], on [0, 1]: Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255."""
    if image.shape[1] != 3:
        raise TrainingError(f"loss_space y needs RGB outputs; the model returned {image.shape[1]} channel(s)")
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 16.0 / 255.0 + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b


def loss_function(kind: str, space: str = "rgb") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The recipe's loss, on RGB or (``space='y'``, as the SR papers score) on MATLAB luma.

    On luma, a Y-only model (``LumaSR``) gets gradients from the luma error alone: on RGB, the
    bicubic chroma's error, which it cannot change, is added to every channel's error and
    flips the sign of the L1 gradient wherever it is the larger.
    """
    base = _LOSSES[kind]
    if space == "y":
        return lambda out, target: base(luma(out), luma(target))
    return base


def make_optimizer(spec: OptimizerSpec, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError("the architecture has no trainable parameters")
    kind = torch.optim.AdamW if spec.name == "adamw" else torch.optim.Adam
    return kind(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)


class StepBatches:
    """The loader's batch sampler: the sample indices of steps ``start`` .. ``end - 1``."""

    def __init__(self, start: int, end: int, batch_size: int) -> None:
        self.start, self.end, self.batch_size = start, end, batch_size

    def __iter__(self) -> Iterator[list[int]]:
        return (list(batch_indices(s, self.batch_size)) for s in range(self.start, self.end))

    def __len__(self) -> int:
        return max(self.end - self.start, 0)


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


class MetricsLog:
    """``metrics.jsonl``: appended line by line; on resume, lines after the checkpoint's step are dropped."""

    def __init__(self, path: Path, keep_until: int | None) -> None:
        self.path = path
        if keep_until is None:
            path.write_text("")
        elif path.is_file():
            kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= keep_until]
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs natively here: any CUDA device, or a CPU whose oneDNN has bf16 kernels."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _workers(options: TrainOptions, recipe: Recipe, device: torch.device) -> int:
    if options.workers is not None:
        return options.workers
    if recipe.data.workers is not None:
        return recipe.data.workers
    return 0 if device.type == "cpu" else min(16, max((os.cpu_count() or 1) - 1, 0))


def _start(
    recipe: Recipe, options: TrainOptions, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, float]:
    """(first step, wall seconds already spent): 0 for a fresh run, the checkpoint's step on resume."""
    existing = latest_checkpoint(options.out_dir)
    if existing is not None and not options.resume:
        raise TrainingError(
            f"{options.out_dir} already holds checkpoints (up to step {existing.step}); pass --resume to continue "
            "that run, or choose another --out"
        )
    if existing is None:
        if options.resume and options.progress is not None:
            options.progress.note(f"nothing to resume in {options.out_dir}: starting from step 0")
        return 0, 0.0
    record = load_checkpoint(existing, model, optimizer)
    if record.get("recipe") != recipe.model_dump(mode="json"):
        raise CheckpointError(
            f"checkpoint {existing.sidecar} was written for a different recipe (or other --steps); resume with the "
            f"recipe saved in {options.out_dir / RECIPE_COPY}"
        )
    return int(record["step"]), float(record.get("wall_s", 0.0))


def train(recipe: Recipe, options: TrainOptions) -> TrainResult:
    """Run (or continue) ``recipe`` into ``options.out_dir``; see the module docstring."""
    task = recipe.training_task()
    device = resolve_device(recipe.device)
    if recipe.precision == "bf16" and not bf16_supported(device):
        raise TrainingError(
            f"precision bf16 (autocast) needs a CUDA device or a CPU with native bf16 (AVX512-BF16 or AMX); "
            f"this {device.type} has none: use --precision fp32"
        )
    cache = ImageCache.load(training_folder(recipe, options.data_folder), task.data.colour, recipe.data.prescale)
    sampler = PatchSampler(cache, recipe.degradation(), recipe.data.patch_size, recipe.data.augmentation,
                           recipe.seed, recipe.data.patches_per_epoch, task.data.colour)  # fmt: skip
    validation: ValidationSet | None = None
    if recipe.validation is not None:
        validation = load_validation(recipe.validation, recipe.data.degradation, options.data_root)
    out = options.out_dir  # created only once the data is known to be there
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(recipe.seed)
    model = build_model(recipe.architecture.name, recipe.architecture.args, {"scale": task.scale}).to(device)
    optimizer = make_optimizer(recipe.optimizer, model)
    loss_fn = loss_function(recipe.loss, recipe.loss_space)
    total = recipe.schedule.steps
    with _deterministic(device):
        start, wall_before = _start(recipe, options, model, optimizer)
        if start == 0 and recipe.init is not None:
            try:
                report = load_initial_weights(model, recipe.init.weights, recipe.init.match)
            except InitError as exc:
                raise TrainingError(str(exc)) from exc
            if options.progress is not None:
                options.progress.note(f"initialised {report.copied} of {report.total} tensors from {report.source}")
        (out / RECIPE_COPY).write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
        log = MetricsLog(out / METRICS_LOG, start if start else None)
        end = total if options.stop_after is None else max(min(total, options.stop_after), start)
        batches = StepBatches(start, end, recipe.data.batch_size)
        workers = _workers(options, recipe, device)
        loader = DataLoader(
            PatchDataset(sampler), batch_sampler=batches, num_workers=workers, pin_memory=device.type == "cuda"
        )
        progress, began = options.progress, time.perf_counter()
        if progress is not None:
            progress.start(total, start, f"{recipe.name} on {device.type}")
        running, count, last_loss, scores, checkpoint = torch.zeros((), device=device), 0, None, None, None
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.precision == "bf16")
        layout = torch.channels_last if recipe.memory_format == "channels_last" else torch.contiguous_format
        model.train()
        step, lr = start, learning_rate(recipe.optimizer, recipe.schedule, start)
        validate_every = recipe.validation.every if recipe.validation is not None else 0
        try:
            for step_index, (x, y) in zip(range(start, end), loader, strict=True):
                lr = learning_rate(recipe.optimizer, recipe.schedule, step_index)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                x = x.to(device, non_blocking=True).contiguous(memory_format=layout)
                y = y.to(device, non_blocking=True).contiguous(memory_format=layout)
                with autocast:
                    output = model(x)
                loss = loss_fn(output.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.optimizer.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), recipe.optimizer.grad_clip)
                optimizer.step()
                step = step_index + 1
                running, count = running + loss.detach(), count + 1
                wall = wall_before + time.perf_counter() - began
                if step % recipe.log_every == 0 or step == end:
                    last_loss = float(running) / count
                    log.write({"step": step, "epoch": step * recipe.data.batch_size / recipe.data.patches_per_epoch,
                               "loss": last_loss, "lr": lr, "wall_s": round(wall, 3)})  # fmt: skip
                    running, count = torch.zeros((), device=device), 0
                if validation is not None and (step % validate_every == 0 or step == total):
                    scores = _validate(model, validation, device, step, wall, log, progress)
                if step % recipe.checkpoint_every == 0 or step == end:
                    extra = {"recipe": recipe.model_dump(mode="json"), "wall_s": wall, "lr": lr, "loss": last_loss,
                             "torch": torch.__version__, "device": str(device)}  # fmt: skip
                    checkpoint = save_checkpoint(out, step, model, optimizer, extra).tensors
                if progress is not None:
                    progress.update(step, last_loss, lr)
        finally:
            if progress is not None:
                progress.close()
    wall = wall_before + time.perf_counter() - began
    result = TrainResult(out, step, total, wall, last_loss, scores, checkpoint)
    if result.finished and options.export:
        result.submission = _export(model, recipe, task, result, sampler, cache, device, options.command)
    return result


def _validate(
    model: nn.Module, validation: ValidationSet, device: torch.device, step: int, wall: float, log: MetricsLog,
    progress: Progress | None,
) -> dict[str, float]:  # fmt: skip
    scores = evaluate(model, validation, device)
    log.write({"step": step, "validation": validation.task.id, **scores, "wall_s": round(wall, 3)})
    if progress is not None:
        progress.note(f"step {step}: {validation.task.id} PSNR {scores['psnr']:.3f} dB, "
                      f"SSIM {scores['ssim']:.4f} ({int(scores['images'])} images)")  # fmt: skip
    return scores


def _export(
    model: nn.Module, recipe: Recipe, task: Task, result: TrainResult, sampler: PatchSampler, cache: ImageCache,
    device: torch.device, command: str | None,
) -> Path:  # fmt: skip
    """The submission folder; MACs at the task's latency size (for a packed-raw model: the input giving that output)."""
    from bench.training.export import export_submission

    latency = task.latency.input_shape
    channels = int(sampler.pair(0)[0].shape[0])
    shape = (
        latency if latency[1] == channels else (1, channels, latency[2] // sampler.ratio, latency[3] // sampler.ratio)
    )
    return export_submission(model, recipe, task, result.out_dir / "submission", result, cache, device, command, shape)
