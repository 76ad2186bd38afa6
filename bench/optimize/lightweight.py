"""``bench optimize lightweight``: rewrite a baseline with Lahiri et al.'s lightweight modules and retrain it.

A rewrite maps a baseline architecture to its lightweight counterpart in the model registry
(``REWRITES``): 3x3 convs become LIST layers, dilated convs GSAT layers, and learned down/up-sampling
bilinear resize + LIST, as ``bench/models/lightweight.py`` defines them. The baseline's arguments
carry over (its task facts and widths), except those the variant fixes.

The new model is trained with the baseline's own recipe (``recipe.yaml`` in its folder, which
``bench train`` writes; or ``--recipe``), with the architecture swapped, the export renamed and
tagged ``lightweight``, and ``derived_from`` set to the baseline. By default it trains from the
architecture's initialisation, as the paper does; ``warm_start`` copies every baseline tensor whose
name and shape match (head, tail, batch norms, untouched layers) first. The result is an ordinary
submission folder with its model card, and a ``lightweight.json`` report of parameters and MACs
before and after.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import OptimizeError
from bench.models import build_model
from bench.optimize.methods import Event, Progress, Report, Table
from bench.optimize.options import LightweightOptions
from bench.registry import Registry
from bench.runtime.complexity import count_complexity
from bench.submission import Submission, SubmissionError, load_submission
from bench.tasks import Task
from bench.training.export import RECIPE_FILE
from bench.training.loop import TrainOptions, TrainResult, train
from bench.training.recipe import ExportSpec, InitSpec, Recipe, RecipeError, check_recipe, load_recipe

REPORT_FILE = "lightweight.json"


@dataclass(frozen=True)
class Rewrite:
    """Baseline architecture -> lightweight architecture; ``drop_args`` are baseline arguments the variant fixes."""

    baseline: str
    variant: str
    replaces: str  # what changes, in words (the report and the model card)
    drop_args: tuple[str, ...] = ()

    def variant_args(self, args: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in args.items() if k not in self.drop_args}


REWRITES = Registry[Rewrite]("lightweight rewrite")
for _rewrite in (
    Rewrite("dncnn", "dncnn-list", "the middle 3x3 convs -> LIST"),
    Rewrite("fsrcnn", "fsrcnn-list", "the 3x3 mapping convs -> LIST"),
    Rewrite("edsr-baseline", "edsr-list", "resblock 3x3 convs -> LIST; conv + pixel shuffle -> bilinear + LIST",
            drop_args=("upsampler",)),
    Rewrite("unet-mobile", "unet-mobile-list",
            "3x3 convs -> LIST; strided-conv down / depth-to-space up -> bilinear + LIST", drop_args=("up",)),
    Rewrite("inpaint-dilated", "inpaint-dilated-list",
            "3x3 convs -> LIST; dilated convs -> GSAT; down / up -> bilinear + LIST"),
):  # fmt: skip
    REWRITES.add(_rewrite.baseline, _rewrite)


@dataclass
class LightweightPlan:
    """What ``run_lightweight`` will train: the baseline, the rewrite and the derived recipe."""

    baseline: Submission
    rewrite: Rewrite
    recipe: Recipe
    task: Task
    before: dict[str, Any] = field(default_factory=dict)  # params, MACs of the baseline at the latency shape
    after: dict[str, Any] = field(default_factory=dict)


def _complexity(name: str, args: dict[str, Any], task: Task, shape: tuple[int, ...]) -> dict[str, Any]:
    model = build_model(name, args, {"scale": task.scale})
    counted = count_complexity(model, shape)
    return {"architecture": name, "args": args, "params": counted.params, "macs": counted.macs,
            "input_shape": list(shape)}  # fmt: skip


def load_baseline(folder: str | Path, task: Task) -> Submission:
    """The baseline submission at ``folder``, which must declare ``task`` (any problem as :class:`OptimizeError`)."""
    try:
        baseline = load_submission(folder)
    except SubmissionError as exc:
        raise OptimizeError(str(exc)) from exc
    if not baseline.manifest.declares(task.id):
        raise OptimizeError(f"{baseline.folder} does not declare task {task.id}")
    return baseline


def baseline_recipe(baseline: Submission, recipe_path: str | Path | None) -> Recipe:
    path = Path(recipe_path) if recipe_path else baseline.folder / RECIPE_FILE
    if not path.is_file():
        raise OptimizeError(
            f"{baseline.folder} has no {RECIPE_FILE} (bench train writes one); give the recipe to retrain with "
            "--recipe FILE"
        )
    try:
        return load_recipe(path)
    except RecipeError as exc:
        raise OptimizeError(str(exc)) from exc


def plan_lightweight(
    baseline_folder: str | Path,
    *,
    name: str | None = None,
    recipe_path: str | Path | None = None,
    warm_start: bool = False,
    steps: int | None = None,
    device: str | None = None,
    precision: str | None = None,
    memory_format: str | None = None,
) -> LightweightPlan:
    """Check the baseline and derive the lightweight recipe; nothing is trained or written."""
    try:
        baseline = load_submission(baseline_folder)
    except SubmissionError as exc:
        raise OptimizeError(str(exc)) from exc
    arch = baseline.manifest.architecture
    if baseline.manifest.format != "safetensors" or arch is None:
        raise OptimizeError(
            f"{baseline.folder} is a {baseline.manifest.format} submission; the lightweight rewrite needs a registered "
            "architecture with safetensors weights (format safetensors)"
        )
    if arch.name not in REWRITES:
        raise OptimizeError(
            f"no lightweight rewrite for architecture {arch.name!r}; rewrites exist for: {', '.join(sorted(REWRITES))}"
        )
    rewrite = REWRITES[arch.name]
    base = baseline_recipe(baseline, recipe_path)
    new_name = name or f"{baseline.manifest.name}-lightweight"
    args = rewrite.variant_args(dict(arch.args))
    export = ExportSpec.model_validate(
        {**base.export.model_dump(), "name": new_name, "derived_from": baseline.manifest.name,
         "tags": list(dict.fromkeys([*base.export.tags, "lightweight"])),
         "description": f"{baseline.manifest.name} rewritten with Lahiri et al.'s lightweight modules "
                        f"({rewrite.replaces}) by bench optimize lightweight, retrained with its recipe."}
    )  # fmt: skip
    init = InitSpec(weights=str(baseline.folder.resolve()), match="matching") if warm_start else None
    recipe = Recipe.model_validate(
        {**base.model_dump(), "name": new_name, "architecture": {"name": rewrite.variant, "args": args},
         "init": None if init is None else init.model_dump(), "export": export.model_dump(),
         "description": export.description}
    ).with_overrides(steps=steps, device=device, precision=precision, memory_format=memory_format)  # fmt: skip
    try:
        check_recipe(recipe, f"lightweight recipe for {baseline.manifest.name}")
    except RecipeError as exc:
        raise OptimizeError(str(exc)) from exc
    task = recipe.training_task()
    shape = tuple(task.latency.input_shape)  # the rewrites' architectures take the task's input as it is
    plan = LightweightPlan(baseline, rewrite, recipe, task)
    plan.before = _complexity(arch.name, dict(arch.args), task, shape)
    plan.after = _complexity(rewrite.variant, args, task, shape)
    return plan


@dataclass
class LightweightResult:
    plan: LightweightPlan
    training: TrainResult
    submission: Path | None
    report: dict[str, Any]


def run_lightweight(
    plan: LightweightPlan, options: TrainOptions, dest: Path | None, force: bool = False
) -> LightweightResult:
    """Train the plan's recipe; copy the exported submission to ``dest`` with a ``lightweight.json`` report."""
    if dest is not None and dest.exists() and not force:
        raise OptimizeError(f"{dest} already exists; choose another --out or pass --force to replace it")
    result = train(plan.recipe, options)
    report = {
        "baseline": str(plan.baseline.folder),
        "baseline_name": plan.baseline.manifest.name,
        "rewrite": {"from": plan.rewrite.baseline, "to": plan.rewrite.variant, "replaces": plan.rewrite.replaces},
        "before": plan.before,
        "after": plan.after,
        "params_ratio": plan.before["params"] / max(plan.after["params"], 1),
        "macs_ratio": plan.before["macs"] / max(plan.after["macs"], 1),
        "steps": result.step,
        "validation": result.validation,
        "warm_start": plan.recipe.init is not None,
    }
    submission = result.submission
    if submission is not None:
        (submission / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
        if dest is not None:
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(submission, dest)
            submission = dest
    return LightweightResult(plan, result, submission, report)


def _complexity_table(before: dict[str, Any], after: dict[str, Any]) -> Table:
    table = Table("lightweight rewrite", ["", "architecture", "params", "G MACs", "at input"])
    for label, row in (("baseline", before), ("lightweight", after)):
        shape = "x".join(map(str, row["input_shape"]))
        table.rows.append([label, row["architecture"], f"{row['params']:,}", f"{row['macs'] / 1e9:.3f}", shape])
    table.rows.append(["ratio", "", f"{before['params'] / max(after['params'], 1):.1f}x fewer",
                       f"{before['macs'] / max(after['macs'], 1):.1f}x fewer", ""])  # fmt: skip
    return table


def optimize(options: LightweightOptions, progress: Progress) -> Report:
    """``bench optimize lightweight`` (see :mod:`bench.optimize.methods`): ``--list``, a dry run, or the retraining."""
    import shlex
    import sys

    from bench.training.command import summary
    from bench.training.progress import default_progress

    if options.list_rewrites:
        return Report(lines=[f"{name} -> {r.variant}: {r.replaces}" for name, r in sorted(REWRITES.items())])
    if options.baseline is None:
        raise OptimizeError("give a baseline submission folder: bench optimize lightweight BASELINE (see --list)")
    plan = plan_lightweight(options.baseline, name=options.name, recipe_path=options.recipe,
                            warm_start=options.warm_start, steps=options.steps, device=options.device,
                            precision=options.precision, memory_format=options.memory_format)  # fmt: skip
    table = _complexity_table(plan.before, plan.after)
    if options.dry_run:
        lines = [f"would train {plan.recipe.name} for {plan.recipe.schedule.steps} steps (dry run)"]
        return Report(tables=[table], lines=lines)
    progress(Event("rewrite", f"{plan.rewrite.baseline} -> {plan.rewrite.variant}: training {plan.recipe.name}"))
    train_options = TrainOptions(
        out_dir=options.work or Path("runs") / plan.recipe.name, resume=options.resume, data_folder=options.data,
        data_root=options.data_root, workers=options.workers, command=shlex.join(["bench", *sys.argv[1:]]),
        progress=None if options.quiet else default_progress(plan.recipe.log_every),
    )  # fmt: skip
    result = run_lightweight(plan, train_options, options.out, force=options.force)
    lines = summary(result.training)
    if result.submission is not None:
        lines.append(f"lightweight submission: {result.submission} (derived from {plan.baseline.manifest.name}; "
                     f"report in {result.submission / REPORT_FILE})")  # fmt: skip
    return Report(folder=result.submission, tables=[table], lines=lines, data=result.report)
