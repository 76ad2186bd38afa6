"""``bench optimize METHOD BASELINE``: derive a new submission from a baseline; parsing and printing only."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.cli.common import fail, out
from bench.cli.search import add_nas_parser, add_portable_parser
from bench.errors import USER_ERRORS, OptimizeError
from bench.training.command import add_numerics_arguments, summary


def _complexity_table(before: dict[str, Any], after: dict[str, Any]) -> Table:
    table = Table(title="lightweight rewrite", title_justify="left")
    for column in ("", "architecture", "params", "G MACs", "at input"):
        table.add_column(column)
    for label, row in (("baseline", before), ("lightweight", after)):
        shape = "x".join(map(str, row["input_shape"]))
        table.add_row(label, row["architecture"], f"{row['params']:,}", f"{row['macs'] / 1e9:.3f}", shape)
    table.add_row("ratio", "", f"{before['params'] / max(after['params'], 1):.1f}x fewer",
                  f"{before['macs'] / max(after['macs'], 1):.1f}x fewer", "")  # fmt: skip
    return table


def cmd_lightweight(args: argparse.Namespace) -> int:
    from bench.optimize import REWRITES, plan_lightweight, run_lightweight
    from bench.training.loop import TrainOptions
    from bench.training.progress import default_progress

    if args.list:
        for name, rewrite in sorted(REWRITES.items()):
            out.print(f"{name} -> {rewrite.variant}: {rewrite.replaces}", highlight=False)
        return 0
    if not args.baseline:
        return fail("give a baseline submission folder: bench optimize lightweight BASELINE (see --list)")
    try:
        plan = plan_lightweight(args.baseline, name=args.name, recipe_path=args.recipe, warm_start=args.warm_start,
                                steps=args.steps, device=args.device, precision=args.precision,
                                memory_format=args.memory_format)  # fmt: skip
        out.print(_complexity_table(plan.before, plan.after))
        if args.dry_run:
            out.print(f"would train {plan.recipe.name} for {plan.recipe.schedule.steps} steps (dry run)")
            return 0
        options = TrainOptions(
            out_dir=Path(args.work) if args.work else Path("runs") / plan.recipe.name,
            resume=args.resume,
            data_folder=Path(args.data) if args.data else None,
            data_root=Path(args.data_root) if args.data_root else None,
            workers=args.workers,
            command=shlex.join(["bench", *sys.argv[1:]]),
            progress=None if args.quiet else default_progress(plan.recipe.log_every),
        )
        result = run_lightweight(plan, options, Path(args.out) if args.out else None, force=args.force)
    except USER_ERRORS as exc:
        return fail(str(exc))
    for line in summary(result.training):
        out.print(line, highlight=False, soft_wrap=True)
    if result.submission is not None:
        out.print(f"lightweight submission: {result.submission} (derived from {plan.baseline.manifest.name}; "
                  f"report in {result.submission / 'lightweight.json'})", highlight=False, soft_wrap=True)  # fmt: skip
    return 0


def add_parser(sub: Any) -> None:
    optimize = sub.add_parser("optimize", help="derive an optimised submission from a baseline")
    methods = optimize.add_subparsers(dest="method", required=True)
    light = methods.add_parser(
        "lightweight", help="rewrite a baseline with LIST / GSAT / bilinear + LIST layers and retrain it"
    )
    light.add_argument("baseline", nargs="?", help="baseline submission folder (safetensors, registered architecture)")
    light.add_argument("--list", action="store_true", help="list the architectures that have a rewrite")
    light.add_argument("--name", help="new submission name (default <baseline>-lightweight)")
    light.add_argument("--recipe", help="recipe to retrain with (default the baseline's recipe.yaml)")
    light.add_argument("--warm-start", action="store_true",
                       help="copy every baseline tensor whose name and shape match before training")  # fmt: skip
    light.add_argument("--steps", type=int, help="optimiser steps (default the recipe's)")
    light.add_argument("--device", choices=["auto", "cpu", "cuda"], help="replaces the recipe's device")
    add_numerics_arguments(light)
    light.add_argument("--out", help="copy the new submission folder here (default: leave it in the run folder)")
    light.add_argument("--force", action="store_true", help="replace an existing --out folder")
    light.add_argument("--work", help="run folder for checkpoints and metrics (default runs/<name>)")
    light.add_argument("--resume", action="store_true", help="continue an interrupted run in --work")
    light.add_argument("--data", help="folder of clean training images (default as bench train)")
    light.add_argument("--data-root", help="data root for the validation task")
    light.add_argument("--workers", type=int, help="data-loader processes")
    light.add_argument("--dry-run", action="store_true", help="show the rewrite and its cost; train nothing")
    light.add_argument("--quiet", action="store_true", help="no progress bar")
    light.set_defaults(func=cmd_lightweight)
    add_prune_parser(methods)
    add_quantize_parser(methods)
    add_nas_parser(methods)
    add_portable_parser(methods)


def cmd_prune(args: argparse.Namespace) -> int:
    from bench.optimize.prune import PruneSettings
    from bench.optimize.prune_run import preview_line, preview_prune, round_line, run_prune

    shape = tuple(int(v) for v in args.latency_shape.split("x")) if args.latency_shape else None
    if args.plan:
        try:
            rows = preview_prune(args.submission, args.task, args.plan, args.multiple, shape, args.max_cut)
        except OptimizeError as exc:
            return fail(str(exc))
        out.print(f"one-shot cuts at g = {args.multiple} (no training; MACs at the task's latency shape "
                  "unless --latency-shape):", highlight=False)  # fmt: skip
        for row in rows:
            out.print(preview_line(row), highlight=False, soft_wrap=True)
        return 0
    settings = PruneSettings(
        tolerance_db=args.tolerance, multiple=args.multiple, q_start=args.q_start, q_step=args.q_step,
        max_rounds=args.rounds, target_macs=args.target_macs, finetune_steps=args.finetune_steps,
        final_steps=args.final_steps, lr=args.lr, control=args.control, max_cut=args.max_cut,
        distill=args.distill,
    )  # fmt: skip
    out_dir = Path(args.out) if args.out else Path("runs") / f"{Path(args.submission).name}-pruned"
    try:
        outcome, folder = run_prune(
            args.submission, args.task, out_dir, settings, name=args.name,
            device=None if args.device == "none" else args.device, latency_shape=shape,
            data_folder=Path(args.data) if args.data else None, validation_images=args.held_out,
            validation_crop=args.held_out_crop, force=args.force, workers=args.workers, reference_folder=args.reference,
            on_round=lambda row: out.print(round_line(row), highlight=False),
        )  # fmt: skip
    except USER_ERRORS as exc:
        return fail(str(exc))
    before, after = outcome.before, outcome.after
    out.print(f"MACs {before['macs'] / 1e9:.3f} G -> {after['macs'] / 1e9:.3f} G "
              f"({(after['macs'] / before['macs'] - 1) * 100:+.1f} %); held-out PSNR {outcome.baseline_psnr:.3f} -> "
              f"{outcome.final_psnr:.3f} dB", highlight=False)  # fmt: skip
    if outcome.reference_psnr is not None:
        change = outcome.final_psnr - outcome.reference_psnr
        out.print(f"reference {args.reference}: {outcome.reference_psnr:.3f} dB held-out; pruned against it "
                  f"{change:+.3f} dB", highlight=False, soft_wrap=True)  # fmt: skip
    if outcome.control_psnr is not None:
        out.print(f"unpruned control after the same fine-tunes: {outcome.control_psnr:.3f} dB; cost of the cut "
                  f"{outcome.final_psnr - outcome.control_psnr:+.3f} dB", highlight=False)  # fmt: skip
    out.print(f"pruned submission: {folder} (report: {folder / 'prune-report.json'})", highlight=False, soft_wrap=True)
    return 0


def unit_weight(text: str) -> float:
    """An argparse type: a float in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def add_prune_parser(methods: Any) -> None:
    prune = methods.add_parser("prune", help="architecture-aware iterative pruning to a smaller dense model")
    prune.add_argument("submission", help="baseline submission folder (safetensors, registered architecture)")
    prune.add_argument("--task", required=True, help="task whose latency shape and declaration are used")
    prune.add_argument("--out", help="new submission folder (default runs/<baseline>-pruned)")
    prune.add_argument("--force", action="store_true", help="replace an existing --out folder")
    prune.add_argument("--name", help="new submission name (default <baseline>-pruned)")
    prune.add_argument("--tolerance", type=float, default=0.05, help="largest held-out PSNR drop in dB (0.05)")
    prune.add_argument("--multiple", "-g", type=int, default=8, help="kept channels are multiples of g (8)")
    prune.add_argument("--target-macs", type=float, help="stop at this fraction of the original MACs (e.g. 0.7)")
    prune.add_argument(
        "--max-cut",
        type=float,
        help="largest fraction of a layer's channels cut per round, e.g. 0.5 (default no limit)",
    )
    prune.add_argument("--q-start", type=float, default=1.0, help="first threshold factor (x std of filter norms)")
    prune.add_argument("--q-step", type=float, default=0.5, help="q increase after a kept round (halved on a drop)")
    prune.add_argument("--rounds", type=int, default=12, help="most pruning rounds (12)")
    prune.add_argument("--finetune-steps", type=int, default=200, help="fine-tuning steps after each cut (200)")
    prune.add_argument("--final-steps", type=int, default=1000, help="fine-tuning steps at the end (1000)")
    prune.add_argument("--lr", type=float, default=1e-4, help="fine-tuning peak learning rate, cosine to 1/100 (1e-4)")
    prune.add_argument(
        "--control",
        action="store_true",
        help="also fine-tune an unpruned copy with the same steps and patches (cost of the cut)",
    )
    prune.add_argument(
        "--distill",
        type=unit_weight,
        default=0.0,
        metavar="W",
        help="weight in [0, 1] of the loss against the unpruned baseline's output in every fine-tune (0: none; "
        "1: the pruned model only imitates the baseline, so its PSNR change is the cost of the cut)",
    )
    prune.add_argument(
        "--reference",
        metavar="FOLDER",
        help="the original unpruned submission, when SUBMISSION is already pruned: the tolerance is measured "
        "against its held-out PSNR and --distill imitates it (default SUBMISSION itself)",
    )
    prune.add_argument("--workers", type=int, default=0, help="data-loader processes for fine-tuning (0)")
    prune.add_argument(
        "--plan",
        type=float,
        nargs="+",
        metavar="Q",
        help="only preview one-shot cuts at these q values (MACs and params left, per layer)",
    )
    prune.add_argument("--device", default="cpu-tflite", help="latency device per round, or none (cpu-tflite)")
    prune.add_argument("--latency-shape", help="NCHW timing shape, e.g. 1x3x180x320 (default the task's)")
    prune.add_argument("--data", help="clean training photos (default as bench train)")
    prune.add_argument("--held-out", type=int, default=8, help="training photos held out for validation (8)")
    prune.add_argument("--held-out-crop", type=int, default=192, help="centre crop of each held-out photo (192 px)")
    prune.set_defaults(func=cmd_prune)


def cmd_quantize(args: argparse.Namespace) -> int:
    from bench.optimize.quantize import QuantizeSettings, run_quantize

    settings = QuantizeSettings(
        precision=args.precision, calibration_images=args.calibration_images, calibration_crop=args.calibration_crop,
        uint8_io=args.uint8_io, qat_steps=args.qat_steps, qat_lr=args.qat_lr,
    )  # fmt: skip
    out_dir = Path(args.out) if args.out else Path("runs") / f"{Path(args.submission).name}-{args.precision}"
    try:
        outcome = run_quantize(
            args.submission, args.task, out_dir, settings, name=args.name, recipe_path=args.recipe,
            data_folder=Path(args.data) if args.data else None,
            data_root=Path(args.data_root) if args.data_root else None, score=not args.no_score, force=args.force,
            say=lambda line: out.print(line, highlight=False, soft_wrap=True),
        )  # fmt: skip
    except USER_ERRORS as exc:
        return fail(str(exc))
    report = outcome.report
    if "fp32" in report:
        table = Table(title=f"{report['baseline_name']} -> {args.precision} on {report['task']}", title_justify="left")
        for column in ("", "device", "PSNR (dB)", "SSIM", "latency (ms)"):
            table.add_column(column)
        for label in ("fp32", "quantized"):
            row = report[label]
            table.add_row(label, row["device"], f"{row['psnr']:.3f}", f"{row['ssim']:.4f}", f"{row['latency_ms']:.1f}")
        a, b = report["fp32"], report["quantized"]
        table.add_row("change", "", f"{b['psnr'] - a['psnr']:+.3f}", f"{b['ssim'] - a['ssim']:+.4f}",
                      f"{(b['latency_ms'] / a['latency_ms'] - 1) * 100:+.1f} %")  # fmt: skip
        out.print(table)
    out.print(f"quantised submission: {outcome.folder} (report: {outcome.folder / 'quantize-report.json'})",
              highlight=False, soft_wrap=True)  # fmt: skip
    return 0


def add_quantize_parser(methods: Any) -> None:
    quant = methods.add_parser("quantize", help="TFLite fp16 / int8 quantisation, with the PSNR and latency change")
    quant.add_argument("submission", help="fp32 baseline submission folder (safetensors, registered architecture)")
    quant.add_argument("--task", required=True, help="task to score on and whose latency shape the deployable file has")
    quant.add_argument("--precision", required=True, choices=["fp16", "int8"])
    quant.add_argument("--out", help="new submission folder (default runs/<baseline>-<precision>)")
    quant.add_argument("--force", action="store_true", help="replace an existing --out folder")
    quant.add_argument("--name", help="new submission name (default <baseline>-<precision>)")
    quant.add_argument("--recipe", help="recipe naming the training data (default the baseline's recipe.yaml)")
    quant.add_argument("--data", help="clean training photos (default as bench train)")
    quant.add_argument("--data-root", help="data root for scoring the task")
    # the defaults of QuantizeSettings (not imported here: the parser stays light; a test keeps them equal)
    quant.add_argument("--calibration-images", type=int, default=40, help="training photos for calibration (40)")
    quant.add_argument("--calibration-crop", type=int, default=640, help="clean-pixel centre crop of each (640)")
    quant.add_argument("--uint8-io", action="store_true", help="int8: the deployable file has uint8 input and output")
    quant.add_argument("--qat-steps", type=int, default=0, help="quantisation-aware fine-tuning steps first (0)")
    quant.add_argument("--qat-lr", type=float, default=1e-5, help="its learning rate (1e-5)")
    quant.add_argument("--no-score", action="store_true", help="write the submission without scoring it")
    quant.set_defaults(func=cmd_quantize)
