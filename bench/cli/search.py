"""``bench optimize nas`` and ``bench optimize portable``: architecture search commands; parsing and printing only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bench.cli.common import fail, out
from bench.errors import USER_ERRORS

_STOPS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError)  # a search's settings errors are ValueErrors


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def _shape(text: str | None) -> tuple[int, ...] | None:
    return tuple(int(v) for v in text.split("x")) if text else None


def add_training_arguments(parser: argparse.ArgumentParser, batch: int, patch: int) -> None:
    """The options every search shares: how it trains, on which photos, what it holds out, progress."""
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate, cosine to 1/100 (1e-3)")
    parser.add_argument("--batch", type=int, default=batch, help=f"training batch ({batch})")
    parser.add_argument("--patch", type=int, default=patch, help=f"model-input training patch ({patch})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="clean training photos (default as bench train)")
    parser.add_argument("--held-out", type=int, default=8, help="training photos held out to rank candidates (8)")
    parser.add_argument("--held-out-crop", type=int, default=192, help="centre crop of each held-out photo (192 px)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


class StageBars:
    """Rich progress bars, one per stage (a stage is named by the first word of its description)."""

    def __init__(self, quiet: bool) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bars = Progress(*columns, console=out, disable=quiet, transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> StageBars:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(None, None, None)

    def __call__(self, stage: str, n: int, total: int) -> None:
        key = stage.split(" ")[0]
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(key, total=total)
        self.bars.update(self.tasks[key], completed=n, total=total, description=stage[:60])


def cmd_nas(args: argparse.Namespace) -> int:
    from bench.optimize.nas.run import NasSettings, run_nas
    from bench.optimize.nas.search import Evaluated
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
    with StageBars(args.quiet) as progress:

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
        except _STOPS as exc:
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
    nas.add_argument("--check", type=int, default=10, help="evaluated candidates measured end to end (10)")
    nas.add_argument("--table", help="latency table JSON (default the device's cache file)")
    nas.add_argument("--latency-shape", help="NCHW shape of the latency model, e.g. 1x3x180x320 (default the task's)")
    add_training_arguments(nas, batch=16, patch=48)
    nas.set_defaults(func=cmd_nas)


def cmd_portable(args: argparse.Namespace) -> int:
    from bench.optimize.portable.run import PortableSettings, run_portable
    from bench.optimize.portable.search import Evaluated

    settings = PortableSettings(
        candidates=args.candidates, steps=args.steps, final_steps=args.final_steps, lr=args.lr, batch_size=args.batch,
        patch_size=args.patch, tolerance_db=args.tolerance, seed=args.seed, validation_images=args.held_out,
        validation_crop=args.held_out_crop,
    )  # fmt: skip
    devices = [d for d in args.devices.split(",") if d]
    out_dir = Path(args.out) if args.out else Path("runs") / f"portable-{args.task}"
    with StageBars(args.quiet) as progress:

        def on_candidate(row: Evaluated) -> None:
            times = " ".join(f"{d}={ms:.1f}" for d, ms in row.latency_ms.items())
            out.print(f"{row.group[:5]} {'portable' if row.portable else 'not-port'} {row.psnr:7.3f} dB "
                      f"worst {row.worst_ms:7.1f} ms  {row.description}  ({times})", markup=False)  # fmt: skip

        try:
            outcome = run_portable(
                args.task, devices, settings, out=out_dir, name=args.name,
                data_folder=Path(args.data) if args.data else None,
                data_root=Path(args.data_root) if args.data_root else None,
                latency_shape=_shape(args.latency_shape), force=args.force, progress=progress,
                on_candidate=on_candidate,
            )  # fmt: skip
        except _STOPS as exc:
            return fail(str(exc))
    probe = Table(title="per-op portability probe", title_justify="left")
    probe.add_column("op")
    for device in devices:
        probe.add_column(device)
    for op in dict.fromkeys(p.op for p in outcome.probes):
        cells = []
        for device in devices:
            p = next(p for p in outcome.probes if p.op == op and p.device == device)
            extra = f" ({', '.join(p.fallback_ops)})" if p.fallback_ops else ""
            cells.append(Text(f"{p.status}{extra} {p.latency_ms or 0:.3f} ms" if p.latency_ms else p.status + extra))
        probe.add_row(op, *cells)
    out.print(probe)
    final = Table(title=f"finalists on {args.task} (task data, {outcome.final['images']} images)", title_justify="left")
    for column in ("", "architecture", "PSNR", "SSIM", *devices, "worst ms"):
        final.add_column(column)
    for label in ("unconstrained best", "portable result"):
        row = outcome.final[label]
        final.add_row(label, Text(row["description"]), f"{row['task_psnr']:.3f}", f"{row['task_ssim']:.4f}",
                      *(f"{row['latency_ms'][d]:.1f}" for d in devices), f"{row['worst_ms']:.1f}")  # fmt: skip
    out.print(final)
    for device, front in outcome.fronts.items():
        out.print(f"Pareto front on {device}: " + "; ".join(front), markup=False, highlight=False)
    if outcome.folder:
        out.print(f"portable submission: {outcome.folder} (report: {outcome.folder / 'portable-report.json'})",
                  markup=False, highlight=False)  # fmt: skip
    return 0


def add_portable_parser(methods: Any) -> None:
    port = methods.add_parser("portable", help="per-op portability probe and a U-Net search fast on every device")
    port.add_argument("--task", required=True, help="deblurring task (its training degradation and latency shape)")
    port.add_argument("--devices", required=True, help="comma-separated device ids, e.g. cpu-tflite,cpu-onnxruntime")
    port.add_argument("--out", help="new submission folder (default runs/portable-<task>)")
    port.add_argument("--force", action="store_true", help="replace an existing --out folder")
    port.add_argument("--name", help="submission name (default unet-portable-<task>)")
    port.add_argument("--candidates", type=int, default=6, help="sampled from each of the whole and portable space (6)")
    port.add_argument("--steps", type=int, default=400, help="training steps per candidate (400)")
    port.add_argument("--final-steps", type=int, default=2000, help="extra steps for the two finalists (2000)")
    port.add_argument("--tolerance", type=float, default=0.2, help="PSNR the portable result may give up (0.2 dB)")
    port.add_argument("--latency-shape", help="NCHW timing shape (default the task's)")
    port.add_argument("--data-root", help="data root for the task's own data")
    add_training_arguments(port, batch=8, patch=96)
    port.set_defaults(func=cmd_portable)
