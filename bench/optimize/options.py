"""The registered optimisation methods and their options (one pydantic model each; see
:mod:`bench.optimize.methods`). ``bench optimize METHOD`` is built from these models, and each
method's run function (named here, imported when it runs) takes a validated instance.

Light on purpose: pydantic only, no torch, so the CLI can describe every method at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bench.optimize.methods import Options, option, register_method

_OUT = "new submission folder (default runs/<a name from the settings>)"
_CONTROL = "also fine-tune an unpruned copy with the same steps and patches (the cost of the cut)"
_DISTILL = ("weight of the loss against the unpruned baseline's output in every fine-tune (0: none; 1: the pruned "
            "model only imitates the baseline, so its PSNR change is the cost of the cut)")  # fmt: skip
_REFERENCE = ("the original unpruned submission, when the baseline is already pruned: the tolerance is measured "
              "against its held-out PSNR and --distill imitates it")  # fmt: skip
_PRECISION = "replaces the recipe's precision (bf16: CUDA, or a CPU with bf16)"
_MEMORY = "replaces the recipe's memory format"


class _Common(Options):
    """What every method takes: where to write, what to call it, whether to replace, progress display."""

    out: Path | None = option(None, help=_OUT)
    force: bool = option(False, help="replace an existing --out folder")
    name: str | None = option(None, help="new submission name (default derived from the baseline or the search)")
    data: Path | None = option(None, help="folder of clean training photos (default as bench train)")
    quiet: bool = option(False, help="no progress bars")


class _FromBaseline(_Common):
    baseline: Path = option(positional=True, help="baseline submission folder (safetensors, registered architecture)")
    task: str = option(help="task the baseline declares (its latency shape and scoring)")


@register_method("prune", "architecture-aware iterative pruning to a smaller dense model",
                 run="bench.optimize.prune_run:optimize")  # fmt: skip
class PruneOptions(_FromBaseline):
    tolerance_db: float = option(0.05, flags=("--tolerance",), help="largest held-out PSNR drop a round may cause, dB")
    multiple: int = option(8, flags=("--multiple", "-g"), ge=1, help="kept channels are multiples of g")
    target_macs: float | None = option(None, help="stop at this fraction of the original MACs (e.g. 0.7)")
    max_cut: float | None = option(None, help="largest fraction of a layer's channels cut per round (e.g. 0.5)")
    q_start: float = option(1.0, help="first threshold factor (x std of a group's filter norms)")
    q_step: float = option(0.5, help="q increase after a kept round (halved after a reverted one)")
    rounds: int = option(12, ge=1, help="most pruning rounds")
    finetune_steps: int = option(200, ge=0, help="fine-tuning steps after each cut")
    final_steps: int = option(1000, ge=0, help="fine-tuning steps at the end")
    lr: float = option(1e-4, gt=0, help="fine-tuning peak learning rate, cosine down to 1/100")
    control: bool = option(False, help=_CONTROL)
    distill: float = option(0.0, ge=0.0, le=1.0, metavar="W", help=_DISTILL)
    reference: Path | None = option(None, metavar="FOLDER", help=_REFERENCE)
    workers: int = option(0, ge=0, help="data-loader processes for fine-tuning")
    plan: list[float] | None = option(None, metavar="Q", help="only preview one-shot cuts at these q values")
    device: str = option("cpu-tflite", help="latency device per round, or none")
    latency_shape: str | None = option(None, help="NCHW timing shape, e.g. 1x3x180x320 (default the task's)")
    held_out: int = option(8, ge=1, help="training photos held out for validation")
    held_out_crop: int = option(192, ge=16, help="centre crop of each held-out photo, px")


@register_method("quantize", "TFLite fp16 / int8 quantisation, with the PSNR and latency change",
                 run="bench.optimize.quantize:optimize")  # fmt: skip
class QuantizeOptions(_FromBaseline):
    precision: Literal["fp16", "int8"] = option(help="precision of the deployable model")
    recipe: Path | None = option(None, help="recipe naming the training data (default the baseline's recipe.yaml)")
    data_root: Path | None = option(None, help="data root for scoring the task")
    # 40 photos x 640 px: with 16 x 256 px crops the ranges missed the darkest and brightest Y values of Set5
    # and int8 FSRCNN lost 1.80 dB to clipping; 40 x 640 lost 0.49 (docs/optimize.md, benchmarks/int8_scope.py)
    calibration_images: int = option(40, ge=1, help="training photos held out for calibration")
    calibration_crop: int = option(640, ge=8, help="clean-pixel centre crop of each calibration photo")
    uint8_io: bool = option(False, help="int8: the deployable file takes and returns uint8 (the Mobile AI rule)")
    qat_steps: int = option(0, ge=0, help="quantisation-aware fine-tuning steps before calibration (0: post-training)")
    qat_lr: float = option(1e-5, gt=0, help="learning rate of the quantisation-aware fine-tuning")
    no_score: bool = option(False, help="write the submission without scoring it")


@register_method("lightweight", "rewrite a baseline with LIST / GSAT / bilinear + LIST layers and retrain it",
                 run="bench.optimize.lightweight:optimize")  # fmt: skip
class LightweightOptions(_Common):
    baseline: Path | None = option(None, positional=True, help="baseline submission folder (registered architecture)")
    list_rewrites: bool = option(False, flags=("--list",), help="list the architectures that have a rewrite")
    recipe: Path | None = option(None, help="recipe to retrain with (default the baseline's recipe.yaml)")
    warm_start: bool = option(False, help="copy every baseline tensor whose name and shape match before training")
    steps: int | None = option(None, ge=1, help="optimiser steps (default the recipe's)")
    device: Literal["auto", "cpu", "cuda"] | None = option(None, help="replaces the recipe's device")
    precision: Literal["fp32", "bf16"] | None = option(None, help=_PRECISION)
    memory_format: Literal["contiguous", "channels_last"] | None = option(None, help=_MEMORY)
    work: Path | None = option(None, help="run folder for checkpoints and metrics (default runs/<name>)")
    resume: bool = option(False, help="continue an interrupted run in --work")
    data_root: Path | None = option(None, help="data root for the validation task")
    workers: int | None = option(None, ge=0, help="data-loader processes")
    dry_run: bool = option(False, help="show the rewrite and its cost; train nothing")


class _Search(_Common):
    """What both architecture searches share: the task, and how candidates are trained and ranked."""

    task: str = option(help="task whose data, scale and latency shape the search uses")
    lr: float = option(1e-3, gt=0, help="peak learning rate, cosine down to 1/100")
    batch: int = option(16, ge=1, help="training batch")
    patch: int = option(48, ge=8, help="model-input training patch, px")
    seed: int = option(0, help="random seed")
    held_out: int = option(8, ge=1, help="training photos held out to rank candidates")
    held_out_crop: int = option(192, ge=16, help="centre crop of each held-out photo, px")
    latency_shape: str | None = option(None, help="NCHW timing shape, e.g. 1x3x180x320 (default the task's)")


@register_method("nas", "supernet + Optuna search of SR blocks and pruning under a latency budget",
                 run="bench.optimize.nas.run:optimize")  # fmt: skip
class NasOptions(_Search):
    device: str = option("cpu-tflite", help="target device of the latency model")
    budget_ms: float = option(gt=0, help="largest predicted latency on the device, ms")
    widths: str = option("16,24,32", help="trunk widths, multiples of 8, comma-separated")
    cells: int = option(4, ge=1, help="cells in the chain")
    blocks: str = option("identity,edsr,wdsr-a,wdsr-b", help="blocks a cell may be, comma-separated")
    supernet_steps: int = option(3000, ge=1, help="single-path supernet training steps")
    trials: int = option(40, ge=1, help="architecture and scheme search trials")
    ratio_trials: int = option(20, ge=0, help="pruning-ratio search trials")
    final_steps: int = option(3000, ge=0, help="fine-tuning steps of the winner")
    check: int = option(10, ge=0, help="evaluated candidates measured end to end")
    table: Path | None = option(None, help="latency table JSON (default the device's cache file)")
    sparse_share: float = option(0.5, ge=0, le=1, help="chance that a supernet path trains a maskable layer under "
                                 "a pattern or block mask")  # fmt: skip
    rank_candidates: int = option(8, ge=0, help="candidates trained alone for the ranking check (0: none; else >= 3)")
    rank_steps: int = option(500, ge=1, help="standalone training steps per ranking-check candidate")


@register_method("portable", "per-op portability probe and a U-Net search fast on every device",
                 run="bench.optimize.portable.run:optimize")  # fmt: skip
class PortableOptions(_Search):
    devices: str = option(help="comma-separated device ids, e.g. cpu-tflite,cpu-onnxruntime")
    tolerance_db: float = option(0.2, flags=("--tolerance",), help="PSNR the portable result may give up, dB")
    candidates: int = option(6, ge=1, help="sampled from each of the whole and the portable space")
    steps: int = option(400, ge=1, help="training steps per candidate")
    final_steps: int = option(2000, ge=0, help="extra steps for the two finalists")
    batch: int = option(8, ge=1, help="training batch")
    patch: int = option(96, ge=8, help="model-input training patch, px")
    data_root: Path | None = option(None, help="data root for the task's own data")


def shape_of(text: str | None) -> tuple[int, ...] | None:
    """``"1x3x180x320"`` as a tuple (None stays None)."""
    return tuple(int(v) for v in text.split("x")) if text else None
