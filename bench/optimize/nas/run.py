"""``bench optimize nas``: train a supernet, search it under a latency budget, fine-tune the winner, write it out.

Steps (each timed; the times are the search cost in ``nas-report.json``):

1. **Supernet**: single-path training on patches of the training photos, degraded as the task
   degrades them (:class:`~bench.optimize.finetune.TrainingSide`; the last photos are held out).
2. **Latency table**: every unit a candidate uses (head, each cell, output stage) is measured
   once on the target device at the task's latency shape (cached across searches).
3. **Search**: architecture and scheme search, then pruning-ratio search (:mod:`.search`).
4. **Ranking check**: ``rank_candidates`` evaluated candidates, spread over the supernet's PSNR
   range, are trained alone for ``rank_steps`` steps; Kendall's tau between the two rankings says
   whether the supernet's order can be trusted (:mod:`.ranking`).
5. **Fine-tune**: the winner is copied out of the supernet and fine-tuned alone (masks fixed).
6. **Latency-model check**: the final model and ``check_candidates`` evaluated candidates are
   measured end to end on the device, next to their predictions.

The output folder is a ``nas-sr`` submission with ``nas-report.json`` (settings, search cost,
every evaluated candidate, the ranking check, the latency-model check), ``recipe.yaml`` and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.models.nas_arch import NasSR
from bench.optimize.card import command_and_recipe, provenance_rows
from bench.optimize.finetune import SearchSettings, SearchTraining, TrainingSide, search_recipe
from bench.optimize.lightweight import OptimizeError
from bench.optimize.methods import Event, Report, Table
from bench.optimize.methods import Progress as MethodProgress
from bench.optimize.nas.ranking import MIN_CANDIDATES, RankingCheck, ranking_check, ranking_rows
from bench.optimize.nas.schemes import bake_masks
from bench.optimize.nas.search import Evaluated, LatencyModel, Search
from bench.optimize.nas.space import Candidate, SearchSpace
from bench.optimize.nas.supernet import RandomPaths, SuperNet
from bench.optimize.options import NasOptions, shape_of
from bench.runtime.complexity import count_complexity
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.layer_table import default_table_path
from bench.runtime.protocol import QUICK, LatencySettings
from bench.submission_writer import MODEL_CARD, WEIGHTS, Weights, manifest_of, write_submission
from bench.tasks import Task, get_task
from bench.training.export import RECIPE_FILE
from bench.training.recipe import Recipe

REPORT_FILE = "nas-report.json"


@dataclass(frozen=True)
class NasSettings(SearchSettings):
    space: SearchSpace = field(default_factory=SearchSpace)
    supernet_steps: int = 3000
    trials: int = 40  # architecture and scheme search
    ratio_trials: int = 20  # pruning-ratio search
    final_steps: int = 3000
    check_candidates: int = 10
    sparse_share: float = 0.5  # chance that a maskable layer trains under a pattern / block mask
    rank_candidates: int = 8  # ranking check (0: none)
    rank_steps: int = 500  # standalone training steps per ranking-check candidate


@dataclass
class NasOutcome:
    candidate: Candidate
    model: NasSR
    search: Search
    final_psnr: float
    predicted_ms: float
    check: list[dict[str, Any]]
    wall_s: dict[str, float]
    ranking: RankingCheck | None = None
    folder: Path | None = None


def nas_recipe(task: Task, settings: NasSettings, args: dict[str, Any] | None = None) -> Recipe:
    """The training recipe of the search (supernet and fine-tune): L1 on RGB, the task's degradation."""
    training = SearchTraining(settings.patch_size, settings.batch_size, settings.lr, settings.final_steps,
                              settings.seed, patches_per_epoch=6400)  # fmt: skip
    return search_recipe("nas", task, "nas-sr", args or {}, training, f"sr-*-x{task.scale}", ["nas", "efficient"])


Progress = Callable[[str, int, int], None]


def _timed(wall: dict[str, float], name: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = work()
    wall[name] = round(time.perf_counter() - start, 2)
    return result


def latency_check(
    latency: LatencyModel, final: NasSR, log: list[Evaluated], count: int, seed: int, settings: LatencySettings,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Predicted against measured end-to-end latency for ``final`` and ``count`` distinct evaluated candidates."""
    distinct = {json.dumps(r.candidate, sort_keys=True): r for r in log}
    chosen = random.Random(seed).sample(sorted(distinct), min(count, len(distinct)))
    models: list[tuple[str, torch.nn.Module]] = [("final", final)]
    for key in chosen:
        candidate = Candidate.from_json(json.loads(key))
        models.append((candidate.describe(), NasSR(latency.scale, **candidate.arch_args())))
    rows = []
    for n, (name, model) in enumerate(models, 1):
        if progress:
            progress(name, n, len(models))
        predicted = latency.model(model)
        measured, _ = measure_on(latency.device, model.cpu().eval(), latency.shape, settings)
        error = (predicted - measured.median_ms) / measured.median_ms
        rows.append({"model": name, "predicted_ms": round(predicted, 2), "measured_ms": round(measured.median_ms, 2),
                     "error": round(error, 4)})  # fmt: skip
    return rows


def run_nas(
    task_id: str,
    device_id: str,
    budget_ms: float,
    settings: NasSettings,
    *,
    out: Path | None = None,
    name: str | None = None,
    data_folder: Path | None = None,
    table_path: Path | None = None,
    latency_shape: tuple[int, ...] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_trial: Callable[[Evaluated], None] | None = None,
) -> NasOutcome:
    """The whole search (see the module doc); writes the submission to ``out`` when given."""
    if out is not None and out.exists() and not force:
        raise OptimizeError(f"{out} already exists; choose another --out or pass --force to replace it")
    if 0 < settings.rank_candidates < MIN_CANDIDATES:
        raise OptimizeError(f"--rank-candidates is 0 (no ranking check) or at least {MIN_CANDIDATES}, "
                            f"not {settings.rank_candidates}")  # fmt: skip
    task = get_task(task_id)
    if task.kind != "sr" or not task.scale:
        raise OptimizeError(f"bench optimize nas searches super-resolution nets; {task_id} is a {task.kind} task")
    device = get_device(device_id)
    shape = tuple(latency_shape or task.latency.input_shape)
    torch.manual_seed(settings.seed)
    recipe = nas_recipe(task, settings)
    side = TrainingSide.from_recipe(recipe, data_folder, settings.validation_images, settings.validation_crop)
    wall: dict[str, float] = {}
    scale = task.scale
    supernet = SuperNet(settings.space, scale)

    def train_step(step: int, _loss: float) -> None:
        if progress:
            progress("supernet", step, settings.supernet_steps)

    paths = RandomPaths(supernet, settings.seed, settings.sparse_share)
    _timed(wall, "supernet_training", lambda: side.finetune(paths, settings.supernet_steps, settings.lr, train_step))

    def measure_step(key: str, n: int, total: int) -> None:
        if progress:
            progress(f"measure {key}", n, total)

    latency = LatencyModel(device, shape, scale, table_path or default_table_path(device.id), QUICK, measure_step)
    search = Search(supernet, side, latency, budget_ms, settings.seed, on_trial)
    best = _timed(wall, "search", lambda: search.run(settings.space, settings.trials, settings.ratio_trials))
    ranking = None
    if settings.rank_candidates:
        ranking = _timed(wall, "ranking_check", lambda: ranking_check(
            search.log, scale, side, settings.rank_candidates, settings.rank_steps, settings.lr, settings.seed,
            progress))  # fmt: skip
    model = supernet.extract(best)

    def tune_step(step: int, _loss: float) -> None:
        if progress:
            progress("fine-tune", step, settings.final_steps)

    _timed(wall, "final_finetune", lambda: side.finetune(model, settings.final_steps, settings.lr, tune_step))
    bake_masks(model)
    model.eval()
    final_psnr = side.score(model)
    predicted = latency.model(model)
    check = _timed(wall, "latency_check", lambda: latency_check(
        latency, model, search.log, settings.check_candidates, settings.seed, QUICK, progress))  # fmt: skip
    wall["measured_units"] = latency.measured_units
    outcome = NasOutcome(best, model, search, final_psnr, predicted, check, wall, ranking)
    if out is not None:
        outcome.folder = export_nas(outcome, task, device_id, budget_ms, shape, settings, side, out, name)
    return outcome


def export_nas(outcome: NasOutcome, task: Task, device_id: str, budget_ms: float, shape: tuple[int, ...],
               settings: NasSettings, side: TrainingSide, out: Path, name: str | None) -> Path:  # fmt: skip
    """Write the winner as a ``nas-sr`` submission with its report, recipe and model card."""
    args = {"scale": task.scale, **outcome.candidate.arch_args()}
    new_name = name or f"nas-sr-x{task.scale}-{device_id}-{budget_ms:g}ms"
    weights = Weights.of(outcome.model.state_dict(), {"architecture": "nas-sr"})
    recipe = nas_recipe(task, settings, args)
    manifest = manifest_of({
        "name": new_name, "team": "bench reference models", "tasks": recipe.export.tasks, "format": "safetensors",
        "architecture": {"name": "nas-sr", "args": args}, "files": {"weights": WEIGHTS},
        "tags": ["reference", "nas", "efficient"],
        "training_data": f"{side.sampler.cache.folder.name}: {len(side.sampler.cache.names)} training photos, "
                         f"degraded as {task.id}; {len(side.held_out)} more held out for the search",
        "licence": "Apache-2.0",
        "description": f"Found by bench optimize nas for {device_id} under a {budget_ms:g} ms budget at "
                       f"{'x'.join(map(str, shape))}: {outcome.candidate.describe()}.",
    })  # fmt: skip
    counted = count_complexity(outcome.model, shape)
    report = {
        "task": task.id, "device": device_id, "budget_ms": budget_ms, "latency_shape": list(shape),
        "settings": asdict(settings), "held_out_images": list(side.held_out), "candidate": outcome.candidate.to_json(),
        "description": outcome.candidate.describe(), "architecture": args, "params": counted.params,
        "macs": counted.macs, "held_out_psnr": outcome.final_psnr, "predicted_ms": outcome.predicted_ms,
        "search_cost_s": outcome.wall_s, "latency_check": outcome.check, "evaluated": outcome.search.rows(),
        "ranking": outcome.ranking.to_json() if outcome.ranking else None,
    }  # fmt: skip
    card = model_card(new_name, report).replace(
        "\n## Latency model", provenance_rows(weights, side.device) + "\n## Latency model", 1
    )
    texts = {
        RECIPE_FILE: yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False),
        REPORT_FILE: json.dumps(report, indent=1) + "\n",
        MODEL_CARD: card + "\n" + command_and_recipe(recipe),
    }
    write_submission(out, manifest, weights, texts=texts, task_values={"scale": task.scale})
    return out


def model_card(name: str, report: dict[str, Any], provenance: str = "") -> str:
    cost = report["search_cost_s"]
    check = "\n".join(
        f"| {r['model']} | {r['predicted_ms']:.1f} | {r['measured_ms']:.1f} | {100 * r['error']:+.1f} % |"
        for r in report["latency_check"]
    )
    feasible = sum(1 for r in report["evaluated"] if r["feasible"])
    spent = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in cost.items() if k != "measured_units")
    return f"""# {name}

Found by `bench optimize nas` (supernet + Optuna TPE search of blocks, per-layer pruning schemes and ratios)
for `{report["device"]}` under {report["budget_ms"]:g} ms at {"x".join(map(str, report["latency_shape"]))}.

| | |
|---|---|
| architecture | `nas-sr` {report["architecture"]} |
| path | {report["description"]} |
| parameters | {report["params"]:,} |
| MACs | {report["macs"] / 1e9:.3f} G |
| held-out PSNR | {report["held_out_psnr"]:.3f} dB ({len(report["held_out_images"])} held-out training photos) |
| predicted latency | {report["predicted_ms"]:.1f} ms |
| candidates evaluated | {len(report["evaluated"])} ({feasible} within the budget) |
| search cost | {spent} |
{provenance}
{ranking_section(report.get("ranking"))}
## Latency model against measurement (end to end, quick protocol)

| model | predicted ms | measured ms | error |
|---|---|---|---|
{check}

Score it with `bench score <this folder> --task {report["task"]}`; every candidate is in `{REPORT_FILE}`.
"""


def ranking_section(ranking: dict[str, Any] | None) -> str:
    """The model card's ranking-check table (empty when the check did not run)."""
    if not ranking:
        return ""
    rows = "\n".join("| " + " | ".join(cells) + " |" for cells in ranking_rows(ranking))
    return f"""
## Supernet ranking against standalone training

Kendall tau {ranking["kendall_tau"]:+.3f} (p = {ranking["p_value"]:.3g}) over {len(ranking["candidates"])} candidates,
each trained from scratch for {ranking["steps"]} steps; held-out PSNR in dB.

| candidate | supernet | standalone | predicted ms |
|---|---|---|---|
{rows}
"""


def optimize(options: NasOptions, progress: MethodProgress) -> Report:
    """``bench optimize nas`` (see :mod:`bench.optimize.methods`)."""
    space = SearchSpace(widths=tuple(int(v) for v in options.widths.split(",") if v), cells=options.cells,
                        blocks=tuple(options.blocks.split(",")))  # fmt: skip
    settings = NasSettings(
        space=space, supernet_steps=options.supernet_steps, trials=options.trials, ratio_trials=options.ratio_trials,
        final_steps=options.final_steps, lr=options.lr, batch_size=options.batch, patch_size=options.patch,
        seed=options.seed, check_candidates=options.check, validation_images=options.held_out,
        validation_crop=options.held_out_crop, sparse_share=options.sparse_share,
        rank_candidates=options.rank_candidates, rank_steps=options.rank_steps,
    )  # fmt: skip

    def on_trial(row: Evaluated) -> None:
        mark = "ok  " if row.feasible else "over"
        progress(Event("trial", f"{row.phase[:5]} {row.number:3d} {mark} {row.psnr:7.3f} dB {row.latency_ms:7.1f} ms  "
                                f"{row.description}"))  # fmt: skip

    out = options.out or Path("runs") / f"nas-{options.task}-{options.device}-{options.budget_ms:g}ms"
    outcome = run_nas(
        options.task, options.device, options.budget_ms, settings, out=out, name=options.name,
        data_folder=options.data, table_path=options.table, latency_shape=shape_of(options.latency_shape),
        force=options.force, progress=lambda stage, n, total: progress(Event(stage, done=n, total=total)),
        on_trial=on_trial,
    )  # fmt: skip
    table = Table("latency model against end-to-end measurement", ["model", "predicted ms", "measured ms", "error"])
    table.rows = [[r["model"], f"{r['predicted_ms']:.1f}", f"{r['measured_ms']:.1f}", f"{100 * r['error']:+.1f} %"]
                  for r in outcome.check]  # fmt: skip
    tables = [table]
    if outcome.ranking:
        ranked = Table("supernet ranking against standalone training (held-out PSNR, dB)",
                       ["candidate", "supernet", "standalone", "predicted ms"])  # fmt: skip
        ranked.rows = ranking_rows(outcome.ranking.to_json())
        tables.append(ranked)
    cost = outcome.wall_s
    lines = [
        f"best: {outcome.candidate.describe()}; held-out PSNR {outcome.final_psnr:.3f} dB, predicted "
        f"{outcome.predicted_ms:.1f} ms (budget {options.budget_ms:g} ms)",
        f"search cost: supernet {cost['supernet_training']:.0f} s, search {cost['search']:.0f} s "
        f"({len(outcome.search.log)} candidates, {int(cost['measured_units'])} units measured), fine-tune "
        f"{cost['final_finetune']:.0f} s",
    ]
    if outcome.ranking:
        lines.append(outcome.ranking.summary())
    if outcome.folder:
        lines.append(f"NAS submission: {outcome.folder} (report: {outcome.folder / REPORT_FILE})")
    return Report(folder=outcome.folder, tables=tables, lines=lines)
