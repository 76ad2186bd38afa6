"""Multi-seed upsampler study (Lahiri et al., TCSVT 2021): which upsampler serves a pixel-shuffle SR net best?

The three arms share the EDSR-baseline body and recipe and differ only in the upsampler
(``bench.models.layers.upsampler``):

* ``conv``: 3x3 conv to 4C channels + PixelShuffle (``edsr-baseline``);
* ``dsconv``: a depthwise-separable conv in its place (``edsr-dsconv``, the paper's negative control);
* ``resize-list``: bilinear x2 + a LIST layer (``edsr-resize-list``, the paper's up-sampling module).

Each arm is trained from the repository's recipe (``recipes/edsr-*-x2.yaml``) with the body size,
step count and seeds given here, through ``bench.training.train`` (deterministic on CPU, one
thread per run). Each run is scored with the task protocol on Set5 x2 (Y, crop 2) at its last
step, and optionally on more x2 tasks. The table gives the mean and sample standard deviation
over seeds, and the per-seed paired differences (same seed = same initial body weights and the
same training patches for every arm).

    BENCH_TRAIN_DATA=../shared/datasets/CSun_Hays80 BENCH_DATA=../shared/datasets \\
        .venv/bin/python scripts/upsampler_study.py --blocks 4 --feats 32 --steps 3000 --seeds 0 1 2 \\
        --jobs 2 --extra-tasks sr-set14-x2 --out runs/upsampler-study

A finished run (its ``result.json`` exists) is not retrained, so an interrupted study continues
where it stopped. Validation images are test images: they are only read at the last step, and
no run is selected by them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARMS = {"conv": "edsr-baseline-x2", "dsconv": "edsr-dsconv-x2", "resize-list": "edsr-resize-list-x2"}
STUDY_TASK = "sr-set5-x2"  # the recipes' task: its scale builds the models, its latency input sizes the MACs


@dataclass(frozen=True)
class Run:
    """One (arm, seed) training run of the study."""

    arm: str
    seed: int
    blocks: int
    feats: int
    steps: int
    lr: float
    patch: int
    batch: int
    device: str
    out: Path
    extra_tasks: tuple[str, ...]
    data_root: str | None

    @property
    def folder(self) -> Path:
        return self.out / f"{self.arm}-seed{self.seed}"


def _recipe(run: Run) -> Any:
    """The arm's repository recipe with this study's body size, schedule length, seed and CPU settings."""
    import yaml

    from bench.training.recipe import parse_recipe

    path = Path(__file__).resolve().parent.parent / "recipes" / f"{ARMS[run.arm]}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["architecture"]["args"] = {"n_resblocks": run.blocks, "n_feats": run.feats}
    raw["schedule"].update(steps=run.steps, warmup_steps=min(raw["schedule"].get("warmup_steps", 0), run.steps // 10))
    raw["optimizer"]["lr"] = run.lr
    raw["data"].update(patch_size=run.patch, batch_size=run.batch)
    raw.update(name=f"study-{run.arm}-b{run.blocks}f{run.feats}-s{run.seed}", seed=run.seed, device=run.device,
               precision="fp32", checkpoint_every=max(run.steps // 4, 1), log_every=100)  # fmt: skip
    raw.pop("validation", None)  # scored once, after the last step, from the exported submission
    return parse_recipe(raw, str(path))


def _score(model: Any, task_id: str, data_root: str | None) -> float:
    """Mean PSNR of ``model`` over all of ``task_id``'s images by the task's metric protocol."""
    import torch

    from bench.training.recipe import ValidationSpec
    from bench.training.validate import evaluate, load_validation

    validation = load_validation(ValidationSpec(task=task_id, images=1000, every=1), None,
                                 Path(data_root) if data_root else None)  # fmt: skip
    return float(evaluate(model, validation, torch.device("cpu"))["psnr"])


def train_one(run: Run) -> dict[str, Any]:
    """Train (or resume) one run on one CPU thread; its result dict is also written to ``result.json``."""
    import torch

    torch.set_num_threads(1)
    from bench.submission import load_submission
    from bench.tasks import get_task
    from bench.training.export import macs_at
    from bench.training.loop import TrainOptions, train

    done = run.folder / "result.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    submission = run.folder / "submission"
    if not (submission / "submission.yaml").exists():  # an interrupted run resumes from its last checkpoint
        resume = (run.folder / "checkpoints").is_dir()
        train(_recipe(run), TrainOptions(out_dir=run.folder, resume=resume, command=" ".join(sys.argv)))
    task = get_task(STUDY_TASK)
    model = load_submission(submission).build({"scale": task.scale}).eval()
    wall = json.loads(sorted((run.folder / "checkpoints").glob("*.json"))[-1].read_text()).get("wall_s", 0.0)
    record: dict[str, Any] = {
        "arm": run.arm, "seed": run.seed, "steps": run.steps, "wall_s": round(float(wall), 1),
        "params": sum(p.numel() for p in model.parameters()), "macs": macs_at(model, tuple(task.latency.input_shape)),
    }  # fmt: skip
    for task_id in (STUDY_TASK, *run.extra_tasks):  # the task protocol: Y, crop 2 (bench.metrics)
        record[task_id] = _score(model, task_id, run.data_root)
    done.write_text(json.dumps(record, indent=1))
    return record


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def table(records: list[dict[str, Any]], tasks: list[str]) -> list[str]:
    """Markdown: per arm mean ± sd over seeds and per-seed PSNRs; then paired differences against ``conv``."""
    lines = ["| upsampler | params | G MACs (720p out) | " + " | ".join(f"{t} mean ± sd" for t in tasks)
             + f" | {STUDY_TASK} per seed |", "|---" * (4 + len(tasks)) + "|"]  # fmt: skip
    by_arm = {arm: sorted((r for r in records if r["arm"] == arm), key=lambda r: r["seed"]) for arm in ARMS}
    for arm, runs in by_arm.items():
        if not runs:
            continue
        cells = [_mean_sd([r[t] for r in runs]) for t in tasks]
        per_seed = ", ".join(f"{r[STUDY_TASK]:.3f}" for r in runs)
        lines.append(f"| {arm} | {runs[0]['params']:,} | {runs[0]['macs'] / 1e9:.2f} | " + " | ".join(cells)
                     + f" | {per_seed} |")  # fmt: skip
    header = "| paired difference (same seed) | " + " | ".join(tasks) + " | wins (Set5) |"
    lines += ["", header, "|---" * (2 + len(tasks)) + "|"]
    pairs = [("dsconv", "conv"), ("dsconv", "resize-list"), ("resize-list", "conv")]
    for a, b in pairs:
        seeds = sorted({r["seed"] for r in by_arm[a]} & {r["seed"] for r in by_arm[b]})
        if not seeds:
            continue
        pick = {arm: {r["seed"]: r for r in by_arm[arm]} for arm in (a, b)}
        diffs = {t: [pick[a][s][t] - pick[b][s][t] for s in seeds] for t in tasks}
        wins = sum(d > 0 for d in diffs[STUDY_TASK])
        lines.append(f"| {a} - {b} | " + " | ".join(_mean_sd(diffs[t]) for t in tasks)
                     + f" | {a} higher in {wins} of {len(seeds)} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=4, help="EDSR residual blocks (EDSR-baseline: 16)")
    parser.add_argument("--feats", type=int, default=32, help="EDSR channels (EDSR-baseline: 64)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps per run (batch 16, patch 48)")
    parser.add_argument("--patch", type=int, default=48, help="LR patch size (the HR crop is twice this)")
    parser.add_argument("--batch", type=int, default=16, help="patches per step")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu", help="training device (cpu)")
    parser.add_argument("--lr", type=float, default=4e-4, help="peak learning rate (cosine, as the recipes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--extra-tasks", nargs="*", default=[], help="more x2 tasks to score each run on")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)), help="runs in parallel")
    parser.add_argument("--out", default="runs/upsampler-study")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data_root, extra = os.environ.get("BENCH_DATA"), tuple(args.extra_tasks)
    sizes = (args.blocks, args.feats, args.steps, args.lr, args.patch, args.batch, args.device)
    runs = [Run(arm, seed, *sizes, out, extra, data_root) for seed in args.seeds for arm in args.arms]
    records = []
    with ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1 else nullcontext() as pool:
        for record in pool.map(train_one, runs) if pool is not None else map(train_one, runs):
            records.append(record)
            print(f"{record['arm']} seed {record['seed']}: Set5 {record[STUDY_TASK]:.3f} dB "
                  f"({record['wall_s']:.0f} s)", flush=True)  # fmt: skip
    lines = table(records, [STUDY_TASK, *args.extra_tasks])
    (out / "study.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
