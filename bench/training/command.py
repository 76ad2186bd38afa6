"""The command-line options of a training run, shared by ``bench train`` and ``python -m bench.training``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parser stays light: training modules are imported when a run is prepared
    from bench.training.loop import TrainOptions, TrainResult
    from bench.training.recipe import Recipe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file, or the name of one in recipes/ (docs/training.md)")
    parser.add_argument(
        "--out", help="run folder: checkpoints, metrics.jsonl, submission/ (default runs/<recipe name>)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    parser.add_argument("--steps", type=int, help="total optimiser steps, replacing the recipe's schedule.steps")
    parser.add_argument(
        "--stop-after", type=int, help="end this session after N steps in all (checkpointed); --resume goes on"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="replaces the recipe's device")
    add_numerics_arguments(parser)
    parser.add_argument(
        "--data",
        help="folder of clean training images (default: recipe, $BENCH_TRAIN_DATA, ../shared/datasets/CSun_Hays80)",
    )
    parser.add_argument("--data-root", help="data root for the validation task (default $BENCH_DATA, else embedded)")
    parser.add_argument(
        "--workers", type=int, help="data-loader processes (default 0 on CPU, CPUs - 1 up to 16 on CUDA)"
    )
    parser.add_argument("--no-export", action="store_true", help="do not write the submission folder at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_numerics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--memory-format``, the recipe overrides shared by every command that trains."""
    parser.add_argument(
        "--precision", choices=["fp32", "bf16"], help="replaces the recipe's precision (bf16: CUDA, or a CPU with bf16)"
    )
    parser.add_argument(
        "--memory-format", choices=["contiguous", "channels_last"], help="replaces the recipe's memory format"
    )


def default_out_dir(recipe: Recipe) -> Path:
    """``runs/<recipe name>`` under the current directory."""
    return Path("runs") / recipe.name


def prepare(args: argparse.Namespace, command: str) -> tuple[Recipe, TrainOptions]:
    """The recipe with the command line's overrides, and the run's options."""
    from bench.training.loop import TrainOptions
    from bench.training.progress import default_progress
    from bench.training.recipe import load_recipe

    recipe = load_recipe(args.recipe).with_overrides(
        steps=args.steps, device=args.device, precision=args.precision, memory_format=args.memory_format
    )
    options = TrainOptions(
        out_dir=Path(args.out) if args.out else default_out_dir(recipe),
        resume=args.resume,
        stop_after=args.stop_after,
        data_folder=Path(args.data) if args.data else None,
        data_root=Path(args.data_root) if args.data_root else None,
        workers=args.workers,
        export=not args.no_export,
        command=command,
        progress=None if args.quiet else default_progress(recipe.log_every),
    )
    return recipe, options


def summary(result: TrainResult) -> list[str]:
    """What a finished (or stopped) session reports."""
    loss = "-" if result.loss is None else f"{result.loss:.5f}"
    state = "finished" if result.finished else "stopped"
    lines = [f"{state} at step {result.step}/{result.total_steps} in {result.wall_s:.1f} s; last loss {loss}"]
    if result.validation:
        v = result.validation
        lines.append(f"validation: PSNR {v['psnr']:.3f} dB, SSIM {v['ssim']:.4f} on {int(v['images'])} images")
    lines.append(f"run folder: {result.out_dir} (metrics.jsonl, checkpoints/)")
    if result.submission is not None:
        lines.append(f"submission: {result.submission} (score it with: bench score {result.submission} --task ID)")
    elif not result.finished:
        lines.append("continue with the same command plus --resume")
    return lines
