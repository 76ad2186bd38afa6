"""``bench optimize nas``: architecture search commands; parsing and printing only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bench.cli.common import fail, out
from bench.optimize import OptimizeError
from bench.training import TRAINING_ERRORS


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def _shape(text: str | None) -> tuple[int, ...] | None:
    return tuple(int(v) for v in text.split("x")) if text else None


def cmd_nas(args: argparse.Namespace) -> int:
    from bench.optimize.nas.run import NasSettings, run_nas
    from bench.optimize.nas.search import Evaluated, SearchError
    from bench.optimize.nas.space import SearchSpace

    try:
        space = SearchSpace(widths=_ints(args.widths), cells=args.cells, blocks=tuple(args.blocks.split(",")))
    except ValueError as exc:
        return fail(str(exc))
    settings = NasSettings(
        space=space, supernet_steps=args.supernet_steps, trials=args.trials, ratio_trials=args.ratio_trials,
        final_steps=args.final_steps, lr=args.lr, batch_size=args.batch, patch_size=args.patch, seed=args.seed,
        check_candidates=args.check, validation_images=args.held_out, validation_crop=args.held_out_crop,
    )  # fmt: skip
    out_dir = Path(args.out) if args.out else Path("runs") / f"nas-{args.task}-{args.device}-{args.budget_ms:g}ms"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=out, disable=args.quiet, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, n: int, total: int) -> None:
            key = stage.split(" ")[0]
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=total)
            bar.update(tasks[key], completed=n, total=total, description=stage[:60])

        def on_trial(row: Evaluated) -> None:
            mark = "ok  " if row.feasible else "over"
            out.print(f"{row.phase[:5]} {row.number:3d} {mark} {row.psnr:7.3f} dB {row.latency_ms:7.1f} ms  "
                      f"{row.description}", highlight=False, soft_wrap=True, markup=False)  # fmt: skip

        try:
            outcome = run_nas(
                args.task, args.device, args.budget_ms, settings, out=out_dir, name=args.name,
                data_folder=Path(args.data) if args.data else None,
                table_path=Path(args.table) if args.table else None, latency_shape=_shape(args.latency_shape),
                force=args.force, progress=progress, on_trial=on_trial,
            )  # fmt: skip
        except (OptimizeError, SearchError, ValueError, *TRAINING_ERRORS) as exc:
            return fail(str(exc))
    table = Table(title="latency model against end-to-end measurement", title_justify="left")
    for column in ("model", "predicted ms", "measured ms", "error"):
        table.add_column(column)
    for row in outcome.check:
        table.add_row(
            Text(row["model"]),
            f"{row['predicted_ms']:.1f}",
            f"{row['measured_ms']:.1f}",
            f"{100 * row['error']:+.1f} %",
        )
    out.print(table)
    cost = outcome.wall_s
    out.print(f"best: {outcome.candidate.describe()}; held-out PSNR {outcome.final_psnr:.3f} dB, predicted "
              f"{outcome.predicted_ms:.1f} ms (budget {args.budget_ms:g} ms)", markup=False)  # fmt: skip
    out.print(f"search cost: supernet {cost['supernet_training']:.0f} s, search {cost['search']:.0f} s "
              f"({len(outcome.search.log)} candidates, {int(cost['measured_units'])} units measured), fine-tune "
              f"{cost['final_finetune']:.0f} s", highlight=False)  # fmt: skip
    out.print(f"NAS submission: {outcome.folder} (report: {outcome.folder / 'nas-report.json'})" if outcome.folder
              else "", highlight=False, soft_wrap=True, markup=False)  # fmt: skip
    return 0


def add_nas_parser(methods: Any) -> None:
    nas = methods.add_parser("nas", help="supernet + Optuna search of SR blocks and pruning under a latency budget")
    nas.add_argument("--task", required=True, help="super-resolution task (its scale and latency shape)")
    nas.add_argument("--device", default="cpu-tflite", help="target device of the latency model (cpu-tflite)")
    nas.add_argument("--budget-ms", type=float, required=True, help="largest predicted latency on the device (ms)")
    nas.add_argument("--out", help="new submission folder (default runs/nas-<task>-<device>-<budget>ms)")
    nas.add_argument("--force", action="store_true", help="replace an existing --out folder")
    nas.add_argument("--name", help="submission name (default nas-sr-x<scale>-<device>-<budget>ms)")
    nas.add_argument("--widths", default="16,24,32", help="trunk widths, multiples of 8 (16,24,32)")
    nas.add_argument("--cells", type=int, default=4, help="cells in the chain (4)")
    nas.add_argument("--blocks", default="identity,edsr,wdsr-a,wdsr-b", help="blocks a cell may be")
    nas.add_argument("--supernet-steps", type=int, default=3000, help="single-path supernet training steps (3000)")
    nas.add_argument("--trials", type=int, default=40, help="architecture and scheme search trials (40)")
    nas.add_argument("--ratio-trials", type=int, default=20, help="pruning-ratio search trials (20)")
    nas.add_argument("--final-steps", type=int, default=3000, help="fine-tuning steps of the winner (3000)")
    nas.add_argument("--lr", type=float, default=1e-3, help="peak learning rate, cosine to 1/100 (1e-3)")
    nas.add_argument("--batch", type=int, default=16, help="training batch (16)")
    nas.add_argument("--patch", type=int, default=48, help="model-input training patch (48)")
    nas.add_argument("--seed", type=int, default=0)
    nas.add_argument("--check", type=int, default=10, help="evaluated candidates measured end to end (10)")
    nas.add_argument("--table", help="latency table JSON (default the device's cache file)")
    nas.add_argument("--latency-shape", help="NCHW shape of the latency model, e.g. 1x3x180x320 (default the task's)")
    nas.add_argument("--data", help="clean training photos (default as bench train)")
    nas.add_argument("--held-out", type=int, default=8, help="training photos held out for the search (8)")
    nas.add_argument("--held-out-crop", type=int, default=192, help="centre crop of each held-out photo (192 px)")
    nas.add_argument("--quiet", action="store_true", help="no progress bars")
    nas.set_defaults(func=cmd_nas)
