"""``bench optimize portable``: probe ops on every device, search U-Nets, keep the one that is fast everywhere.

1. **Probe** every op of the space on every device (:mod:`.probe`); the portable ops are those that
   run on each device's accelerator (or on a device without one) exactly.
2. **Search**: ``candidates`` configurations sampled from the whole space and as many from the
   portable space, each trained ``steps`` steps from the same seed on the same patches, scored on
   held-out training photos and timed on every device (:mod:`.search`).
3. **Select** the unconstrained best and the portable result; build the Pareto fronts per device.
4. **Fine-tune** both for ``final_steps`` and score both on the task's own data, so the report
   compares them on the task protocol; the portable result is written out as a submission.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.models.portable_arch import unet_portable
from bench.optimize.card import command_and_recipe, provenance_rows
from bench.optimize.finetune import SearchSettings, SearchTraining, TrainingSide, search_recipe
from bench.optimize.lightweight import OptimizeError
from bench.optimize.methods import Event, Report, Table
from bench.optimize.methods import Progress as MethodProgress
from bench.optimize.options import PortableOptions, shape_of
from bench.optimize.portable.probe import OpProbe, portable_ops, probe_ops, probe_rows
from bench.optimize.portable.search import (
    Evaluated,
    ProgressFn,
    UNetSpace,
    evaluate,
    fronts,
    sample_distinct,
    select,
)
from bench.runtime.devices import get_device
from bench.submission_writer import MODEL_CARD, WEIGHTS, Weights, manifest_of, write_submission
from bench.tasks import Task, get_task
from bench.training.export import RECIPE_FILE
from bench.training.recipe import Recipe, ValidationSpec
from bench.training.validate import evaluate as evaluate_on
from bench.training.validate import load_validation

REPORT_FILE = "portable-report.json"


@dataclass(frozen=True)
class PortableSettings(SearchSettings):
    space: UNetSpace = field(default_factory=UNetSpace)
    candidates: int = 6  # sampled from each of the whole and the portable space
    steps: int = 400  # training steps per candidate
    final_steps: int = 2000  # fine-tuning of the two finalists
    batch_size: int = 8
    patch_size: int = 96
    tolerance_db: float = 0.2
    probe_channels: int = 16


@dataclass
class PortableOutcome:
    probes: list[OpProbe]
    portable: set[str]
    evaluated: list[Evaluated]
    best: Evaluated
    result: Evaluated
    final: dict[str, Any]
    fronts: dict[str, list[str]]
    wall_s: dict[str, float]
    folder: Path | None = None


def portable_recipe(task: Task, settings: PortableSettings, args: dict[str, Any] | None = None) -> Recipe:
    """The training recipe of the candidates and finalists: L1 on RGB, the task's degradation."""
    training = SearchTraining(
        settings.patch_size, settings.batch_size, settings.lr, settings.final_steps, settings.seed
    )
    return search_recipe("portable", task, "unet-portable", args or {}, training, f"{task.kind}-*",
                         ["portable", "efficient"])  # fmt: skip


def run_portable(
    task_id: str, device_ids: list[str], settings: PortableSettings, *, out: Path | None = None,
    name: str | None = None, data_folder: Path | None = None, data_root: Path | None = None,
    latency_shape: tuple[int, ...] | None = None, force: bool = False, progress: ProgressFn | None = None,
    on_candidate: Any = None,
) -> PortableOutcome:  # fmt: skip
    if out is not None and out.exists() and not force:
        raise OptimizeError(f"{out} already exists; choose another --out or pass --force to replace it")
    if len(device_ids) < 1:
        raise OptimizeError("give at least one device (--devices A,B,...)")
    task = get_task(task_id)
    if task.kind != "deblur":
        raise OptimizeError(f"bench optimize portable searches deblurring U-Nets; {task_id} is a {task.kind} task")
    devices = [get_device(d) for d in device_ids]
    shape = tuple(latency_shape or task.latency.input_shape)
    wall: dict[str, float] = {}
    start = time.perf_counter()
    probe_shape = (1, settings.probe_channels, max(2, shape[2] // 2), max(2, shape[3] // 2))
    probes = probe_ops(devices, probe_shape, progress=progress)
    portable = portable_ops(probes)
    wall["probe"] = round(time.perf_counter() - start, 2)
    restricted = settings.space.restricted(portable)
    side = TrainingSide.from_recipe(portable_recipe(task, settings), data_folder, settings.validation_images,
                                    settings.validation_crop)  # fmt: skip
    rng, seen = random.Random(settings.seed), set[str]()
    plan = [("unconstrained", a) for a in sample_distinct(settings.space, settings.candidates, rng, seen)]
    plan += [("portable", a) for a in sample_distinct(restricted, settings.candidates, rng, seen)]
    start = time.perf_counter()
    evaluated: list[Evaluated] = []
    for n, (group, args) in enumerate(plan, 1):
        if progress:
            progress("candidates", n, len(plan))
        row, _ = evaluate(args, group, portable, side, devices, shape, settings.steps, settings.lr, settings.seed)
        evaluated.append(row)
        if on_candidate:
            on_candidate(row)
    wall["search"] = round(time.perf_counter() - start, 2)
    best, result = select(evaluated, settings.tolerance_db)
    start = time.perf_counter()
    final, models = finalists(task, side, best, result, settings, data_root, progress)
    wall["final_finetune"] = round(time.perf_counter() - start, 2)
    outcome = PortableOutcome(probes, portable, evaluated, best, result, final,
                              fronts(evaluated, device_ids), wall)  # fmt: skip
    if out is not None:
        outcome.folder = export_portable(outcome, models["portable result"], task, device_ids, shape, settings,
                                         out, name, side.device)  # fmt: skip
    return outcome


Finalists = tuple[dict[str, Any], dict[str, torch.nn.Module]]


def finalists(task: Task, side: TrainingSide, best: Evaluated, result: Evaluated, settings: PortableSettings,
              data_root: Path | None, progress: ProgressFn | None) -> Finalists:  # fmt: skip
    """Fine-tune the unconstrained best and the portable result alike, and score both on the task's data."""
    validation = load_validation(ValidationSpec(task=task.id, images=10_000), None, data_root)
    final: dict[str, Any] = {}
    models: dict[str, torch.nn.Module] = {}
    for label, row in (("unconstrained best", best), ("portable result", result)):
        torch.manual_seed(settings.seed)
        model = unet_portable(**row.args)
        side.next_sample = 0
        total = settings.steps + settings.final_steps  # the search's patches and seed, trained longer

        def step(n: int, _loss: float, label: str = label, total: int = total) -> None:
            if progress:
                progress(f"fine-tune {label}", n, total)

        side.finetune(model, total, settings.lr, step)
        scores = evaluate_on(model, validation, side.device)
        final[label] = {"description": row.description, "args": row.args, "task_psnr": scores["psnr"],
                        "task_ssim": scores["ssim"], "latency_ms": row.latency_ms, "worst_ms": row.worst_ms,
                        "geomean_ms": row.geomean_ms, "steps": total}  # fmt: skip
        models[label] = model
    final["images"] = len(validation.samples)
    return final, models


def export_portable(
    outcome: PortableOutcome, model: torch.nn.Module, task: Task, device_ids: list[str], shape: tuple[int, ...],
    settings: PortableSettings, out: Path, name: str | None, device: torch.device,
) -> Path:  # fmt: skip
    args = dict(outcome.result.args)
    new_name = name or f"unet-portable-{task.id}"
    weights = Weights.of(model.state_dict(), {"architecture": "unet-portable"})
    recipe = portable_recipe(task, settings, args)
    manifest = manifest_of({
        "name": new_name, "team": "bench reference models", "tasks": recipe.export.tasks, "format": "safetensors",
        "architecture": {"name": "unet-portable", "args": args}, "files": {"weights": WEIGHTS},
        "tags": ["reference", "portable", "efficient"],
        "training_data": f"training photos degraded as {task.id}; {settings.validation_images} held out for the search",
        "licence": "Apache-2.0",
        "description": f"Found by bench optimize portable for {', '.join(device_ids)} (worst-case latency within "
                       f"{settings.tolerance_db} dB of the best): {outcome.result.description}.",
    })  # fmt: skip
    raw = report(outcome, task, device_ids, shape, settings)
    texts = {RECIPE_FILE: yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False),
             REPORT_FILE: json.dumps(raw, indent=1) + "\n",
             MODEL_CARD: model_card(new_name, raw, weights, device) + "\n" + command_and_recipe(recipe)}  # fmt: skip
    write_submission(out, manifest, weights, texts=texts)
    return out


def report(outcome: PortableOutcome, task: Task, device_ids: list[str], shape: tuple[int, ...],
           settings: PortableSettings) -> dict[str, Any]:  # fmt: skip
    settings_row = asdict(settings)
    return {
        "task": task.id, "devices": device_ids, "latency_shape": list(shape), "settings": settings_row,
        "probes": probe_rows(outcome.probes), "portable_ops": sorted(outcome.portable),
        "evaluated": [r.row() for r in outcome.evaluated], "unconstrained_best": outcome.best.row(),
        "portable_result": outcome.result.row(), "final": outcome.final, "pareto_fronts": outcome.fronts,
        "search_cost_s": outcome.wall_s,
    }  # fmt: skip


def model_card(name: str, raw: dict[str, Any], weights: Weights, device: torch.device) -> str:
    final, devices = raw["final"], raw["devices"]
    rows = "\n".join(
        f"| {label} | {final[label]['description']} | {final[label]['task_psnr']:.3f} | "
        + " | ".join(f"{final[label]['latency_ms'][d]:.1f}" for d in devices)
        + f" | {final[label]['worst_ms']:.1f} |"
        for label in ("unconstrained best", "portable result")
    )
    non_portable = sorted({p["op"] for p in raw["probes"]} - set(raw["portable_ops"]))
    spent = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in raw["search_cost_s"].items())
    return f"""# {name}

Found by `bench optimize portable` for {", ".join(f"`{d}`" for d in devices)} on `{raw["task"]}`, timed at
{"x".join(map(str, raw["latency_shape"]))}.

| | |
|---|---|
| architecture | `unet-portable` {raw["portable_result"]["args"]} |
| ops not portable on these devices | {", ".join(non_portable) or "none"} |
| candidates | {len(raw["evaluated"])} ({sum(r["portable"] for r in raw["evaluated"])} from portable ops only) |
| search cost | {spent} |
{provenance_rows(weights, device)}
## Finalists on the task's data ({final["images"]} images, {final["portable result"]["steps"]} steps each)

| | architecture | PSNR | {" | ".join(devices)} | worst ms |
|---|---|---|{"---|" * len(devices)}---|
{rows}

Every probe, candidate and Pareto front is in `{REPORT_FILE}`.
"""


def optimize(options: PortableOptions, progress: MethodProgress) -> Report:
    """``bench optimize portable`` (see :mod:`bench.optimize.methods`)."""
    settings = PortableSettings(
        candidates=options.candidates, steps=options.steps, final_steps=options.final_steps, lr=options.lr,
        batch_size=options.batch, patch_size=options.patch, tolerance_db=options.tolerance_db, seed=options.seed,
        validation_images=options.held_out, validation_crop=options.held_out_crop,
    )  # fmt: skip
    devices = [d for d in options.devices.split(",") if d]

    def on_candidate(row: Evaluated) -> None:
        times = " ".join(f"{d}={ms:.1f}" for d, ms in row.latency_ms.items())
        progress(Event("candidate", f"{row.group[:5]} {'portable' if row.portable else 'not-port'} {row.psnr:7.3f} dB "
                                    f"worst {row.worst_ms:7.1f} ms  {row.description}  ({times})"))  # fmt: skip

    outcome = run_portable(
        options.task, devices, settings, out=options.out or Path("runs") / f"portable-{options.task}",
        name=options.name, data_folder=options.data, data_root=options.data_root,
        latency_shape=shape_of(options.latency_shape), force=options.force,
        progress=lambda stage, n, total: progress(Event(stage, done=n, total=total)), on_candidate=on_candidate,
    )  # fmt: skip
    probe = Table("per-op portability probe", ["op", *devices])
    for op in dict.fromkeys(p.op for p in outcome.probes):
        cells = []
        for device in devices:
            p = next(p for p in outcome.probes if p.op == op and p.device == device)
            extra = f" ({', '.join(p.fallback_ops)})" if p.fallback_ops else ""
            cells.append(f"{p.status}{extra} {p.latency_ms or 0:.3f} ms" if p.latency_ms else p.status + extra)
        probe.rows.append([op, *cells])
    final = Table(f"finalists on {options.task} (task data, {outcome.final['images']} images)",
                  ["", "architecture", "PSNR", "SSIM", *devices, "worst ms"])  # fmt: skip
    for label in ("unconstrained best", "portable result"):
        row = outcome.final[label]
        final.rows.append([label, row["description"], f"{row['task_psnr']:.3f}", f"{row['task_ssim']:.4f}",
                           *(f"{row['latency_ms'][d]:.1f}" for d in devices), f"{row['worst_ms']:.1f}"])  # fmt: skip
    lines = [f"Pareto front on {device}: " + "; ".join(front) for device, front in outcome.fronts.items()]
    if outcome.folder:
        lines.append(f"portable submission: {outcome.folder} (report: {outcome.folder / REPORT_FILE})")
    return Report(folder=outcome.folder, tables=[probe, final], lines=lines)
