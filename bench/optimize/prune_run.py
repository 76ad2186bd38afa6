"""``bench optimize prune``: load a baseline submission, prune it (:mod:`bench.optimize.prune`), write the result.

The new submission is a ``pruned`` architecture: the original base architecture plus the sizes of
the layers that shrank, with safetensors weights. It records ``derived_from`` and is tagged
``pruned``, and the folder holds:

* ``recipe.yaml``, the baseline's recipe, so that the result can be optimised again;
* ``prune-report.json``, with the settings, every round (q, kept or reverted, MACs, params,
  conv memory traffic, held-out PSNR, measured latency) and the per-layer channel counts before
  and after;
* ``MODEL_CARD.md``, which summarises the report.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.models.pruned_arch import changed_layers
from bench.models.registry import build_model
from bench.optimize.finetune import TrainingSide
from bench.optimize.lightweight import OptimizeError, baseline_recipe, load_baseline
from bench.optimize.methods import Event, Progress, Report
from bench.optimize.options import PruneOptions, shape_of
from bench.optimize.prune import CutPreview, PruneOutcome, PruneSettings, RoundLog, preview_cuts, prune_model
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK
from bench.submission import Submission
from bench.submission_writer import MODEL_CARD, WEIGHTS, Weights, manifest_of, write_submission
from bench.tasks import Task, get_task
from bench.training.export import RECIPE_FILE

REPORT_FILE = "prune-report.json"


def _base_of(submission: Submission) -> dict[str, Any]:
    """The original architecture {name, args} (through any earlier pruning)."""
    arch = submission.manifest.architecture
    if submission.manifest.format != "safetensors" or arch is None:
        raise OptimizeError(f"{submission.folder}: pruning needs a registered architecture with safetensors weights")
    if arch.name == "pruned":
        return dict(arch.args["base"])
    return {"name": arch.name, "args": dict(arch.args)}


def latency_probe(device_id: str | None, shape: tuple[int, ...]) -> Any:
    """A function measuring a module's median latency (ms) on ``device_id`` at ``shape`` (quick protocol)."""
    if device_id is None:
        return None
    device = get_device(device_id)

    def measure(model: nn.Module) -> float:
        result, _ = measure_on(device, model.cpu().eval(), shape, QUICK)
        return float(result.median_ms)

    return measure


def _prunable_baseline(
    baseline_folder: str | Path, task_id: str, latency_shape: tuple[int, ...] | None
) -> tuple[Task, Submission, dict[str, Any], nn.Module, tuple[int, ...]]:
    """The task, the baseline (checked prunable), its base architecture, its model and the cost shape."""
    task = get_task(task_id)
    baseline = load_baseline(baseline_folder, task)
    base = _base_of(baseline)
    model = baseline.build({"scale": task.scale}).eval()
    return task, baseline, base, model, tuple(latency_shape or task.latency.input_shape)


def run_prune(
    baseline_folder: str | Path,
    task_id: str,
    out: Path,
    settings: PruneSettings,
    *,
    name: str | None = None,
    device: str | None = "cpu-tflite",
    latency_shape: tuple[int, ...] | None = None,
    data_folder: Path | None = None,
    validation_images: int = 8,
    validation_crop: int = 192,
    force: bool = False,
    workers: int = 0,
    reference_folder: str | Path | None = None,
    on_round: Any = None,
) -> tuple[PruneOutcome, Path]:
    if out.exists() and not force:
        raise OptimizeError(f"{out} already exists; choose another --out or pass --force to replace it")
    task, baseline, base, model, shape = _prunable_baseline(baseline_folder, task_id, latency_shape)
    reference = None
    if reference_folder is not None:  # loaded before the training photos, so a bad folder fails at once
        reference = load_baseline(reference_folder, task).build({"scale": task.scale}).eval()
    recipe = baseline_recipe(baseline, None)  # pruning fine-tunes with the baseline's own recipe
    side = TrainingSide.from_recipe(recipe, data_folder, validation_images, validation_crop, workers=workers)
    sample = side.validation.samples[0].input
    example = torch.from_numpy(sample.transpose(2, 0, 1).copy())[None, :, :32, :32]
    outcome = prune_model(model, side, settings, example, shape, latency_probe(device, shape), on_round,
                          reference=reference)  # fmt: skip
    folder = _export(outcome, baseline, base, task, out, name, settings, device, shape, side, reference_folder)
    return outcome, folder


def preview_prune(
    baseline_folder: str | Path, task_id: str, qs: list[float], multiple: int,
    latency_shape: tuple[int, ...] | None = None, max_cut: float | None = None,
) -> list[CutPreview]:  # fmt: skip
    """One-shot cuts of the baseline at each of ``qs`` (``bench optimize prune --plan``): no data, no training."""
    *_, model, shape = _prunable_baseline(baseline_folder, task_id, latency_shape)
    example = torch.rand(1, shape[1], 32, 32, generator=torch.Generator().manual_seed(0))
    return preview_cuts(model, example, shape, qs, multiple, max_cut)


def preview_line(row: CutPreview) -> str:
    """One ``--plan`` line: q, the MACs and params left, and each cut layer as kept/channels."""
    layers = ", ".join(f"{c.root} {c.kept}/{c.channels}" for c in row.cuts) or "no layer cut"
    return (f"q {row.q:g}: MACs {row.macs_fraction * 100:.1f} %, params {row.params_fraction * 100:.1f} % "
            f"of the baseline; {layers}")  # fmt: skip


def _export(
    outcome: PruneOutcome, baseline: Submission, base: dict[str, Any], task: Task, out: Path, name: str | None,
    settings: PruneSettings, device: str | None, shape: tuple[int, ...], side: TrainingSide,
    reference_folder: str | Path | None = None,
) -> Path:  # fmt: skip
    new_name = name or f"{baseline.manifest.name}-pruned"
    layers = changed_layers(build_model(base["name"], base["args"], {"scale": task.scale}), outcome.model)
    manifest = manifest_of({
        "name": new_name, "architecture": {"name": "pruned", "args": {"base": base, "layers": layers}},
        "files": {"weights": WEIGHTS}, "derived_from": baseline.manifest.name,
        "tags": list(dict.fromkeys([*baseline.manifest.tags, "pruned"])),
        "description": f"{baseline.manifest.name} pruned by bench optimize prune (g={settings.multiple}, "
                       f"tolerance {settings.tolerance_db} dB on {len(side.validation.samples)} held-out photos).",
    }, base=baseline.manifest)  # fmt: skip
    report = {
        "baseline": str(baseline.folder), "baseline_name": baseline.manifest.name, "task": task.id,
        "settings": asdict(settings), "latency_device": device, "latency_shape": list(shape),
        "held_out_images": list(side.held_out), "baseline_psnr": outcome.baseline_psnr,
        "final_psnr": outcome.final_psnr, "control_psnr": outcome.control_psnr,
        "reference": None if reference_folder is None else str(reference_folder),
        "reference_psnr": outcome.reference_psnr,
        "kept_finetunes": [list(f) for f in outcome.kept_finetunes], "before": outcome.before, "after": outcome.after,
        "rounds": outcome.log_rows(),
    }  # fmt: skip
    write_submission(
        out, manifest, Weights.of(outcome.model.state_dict(), {"derived_from": baseline.manifest.name}),
        texts={REPORT_FILE: json.dumps(report, indent=1) + "\n", MODEL_CARD: model_card(new_name, report)},
        copies={RECIPE_FILE: baseline.folder / RECIPE_FILE}, task_values={"scale": task.scale},
    )  # fmt: skip
    return out


def _state(accepted: bool, pruned_channels: int) -> str:
    return "kept" if accepted else ("no cut" if pruned_channels == 0 else "reverted")


def _ratio(before: float | None, after: float | None) -> str:
    return "-" if not before or after is None else f"{(after / before - 1) * 100:+.1f} %"


def model_card(name: str, report: dict[str, Any]) -> str:
    before, after = report["before"], report["after"]
    rows = "\n".join(
        f"| {r['round']} | {r['q']:.2f} | {_state(r['accepted'], r['pruned_channels'])} | {r['macs'] / 1e9:.3f} | "
        f"{r['params']:,} | {r['traffic_bytes'] / 2**20:.1f} | {r['psnr']:.3f} | "
        f"{'-' if r['latency_ms'] is None else format(r['latency_ms'], '.1f')} | {r['note']} |"
        for r in report["rounds"]
    )
    widths = "\n".join(
        f"| `{layer}` | {before['widths'][layer]} | {after['widths'].get(layer, '-')} |"
        for layer in before["widths"] if before["widths"][layer] != after["widths"].get(layer)
    )  # fmt: skip
    lat = (
        "-"
        if after["latency_ms"] is None
        else (
            f"{before['latency_ms']:.1f} -> {after['latency_ms']:.1f} ms "
            f"({_ratio(before['latency_ms'], after['latency_ms'])})"
        )
    )
    cells = [
        (
            f"MACs (G, at {'x'.join(map(str, report['latency_shape']))})",
            before["macs"] / 1e9,
            after["macs"] / 1e9,
            "3f",
        ),
        ("params", before["params"], after["params"], ","),
        ("conv memory traffic (MiB)", before["traffic_bytes"] / 2**20, after["traffic_bytes"] / 2**20, "1f"),
    ]
    table = "\n".join(f"| {label} | {a:.{fmt}} | {b:.{fmt}} | {_ratio(a, b)} |" if fmt != "," else
                      f"| {label} | {a:,} | {b:,} | {_ratio(a, b)} |" for label, a, b, fmt in cells)  # fmt: skip
    drop = report["final_psnr"] - report["baseline_psnr"]
    table += f"\n| held-out PSNR (dB) | {report['baseline_psnr']:.3f} | {report['final_psnr']:.3f} | {drop:+.3f} dB |"
    table += control_row(report) + reference_row(report)
    return f"""# {name}

`{report["baseline_name"]}` pruned by `bench optimize prune` on `{report["task"]}`.

| | before | after | change |
|---|---|---|---|
{table}
| latency on {report["latency_device"]} (median, quick protocol) | | | {lat} |

The held-out split is {len(report["held_out_images"])} training photos never fine-tuned on (not a test set).
Settings: `{json.dumps(report["settings"])}`

## Rounds

| round | q | result | G MACs | params | traffic MiB | PSNR | latency ms | note |
|---|---|---|---|---|---|---|---|---|
{rows}

## Channel counts that changed (conv outputs)

| layer | before | after |
|---|---|---|
{widths}

Score it with `bench score <this folder> --task {report["task"]}`.
"""


def control_row(report: dict[str, Any]) -> str:
    """The model card's row for the unpruned control (empty when the run had none)."""
    control = report.get("control_psnr")
    if control is None:
        return ""
    steps = sum(steps for _, steps in report["kept_finetunes"])
    return (f"\n| held-out PSNR, unpruned control after the same {steps:,} fine-tuning steps (dB) | {control:.3f} | "
            f"{report['final_psnr']:.3f} | {report['final_psnr'] - control:+.3f} dB (cost of the cut) |")  # fmt: skip


def reference_row(report: dict[str, Any]) -> str:
    """The model card's row for the reference model that the tolerance was measured against (empty if none)."""
    reference = report.get("reference_psnr")
    if reference is None:
        return ""
    return (f"\n| held-out PSNR against the reference `{report['reference']}` (dB) | {reference:.3f} | "
            f"{report['final_psnr']:.3f} | {report['final_psnr'] - reference:+.3f} dB |")  # fmt: skip


def round_line(row: RoundLog) -> str:
    latency = "" if row.latency_ms is None else f", {row.latency_ms:.1f} ms"
    state = _state(row.accepted, row.pruned_channels)
    return (f"round {row.round}: q {row.q:.2f} {state}: {row.macs / 1e9:.3f} G MACs, {row.params:,} params, "
            f"PSNR {row.psnr:.3f} dB{latency} {row.note}").rstrip()  # fmt: skip


def optimize(options: PruneOptions, progress: Progress) -> Report:
    """``bench optimize prune`` (see :mod:`bench.optimize.methods`): a ``--plan`` preview, or the whole run."""
    shape = shape_of(options.latency_shape)
    if options.plan:
        rows = preview_prune(options.baseline, options.task, options.plan, options.multiple, shape, options.max_cut)
        head = (f"one-shot cuts at g = {options.multiple} (no training; MACs at the task's latency shape unless "
                "--latency-shape):")  # fmt: skip
        return Report(lines=[head, *(preview_line(row) for row in rows)])
    settings = PruneSettings(
        tolerance_db=options.tolerance_db, multiple=options.multiple, q_start=options.q_start, q_step=options.q_step,
        max_rounds=options.rounds, target_macs=options.target_macs, finetune_steps=options.finetune_steps,
        final_steps=options.final_steps, lr=options.lr, control=options.control, max_cut=options.max_cut,
        distill=options.distill,
    )  # fmt: skip
    outcome, folder = run_prune(
        options.baseline, options.task, options.out or Path("runs") / f"{options.baseline.name}-pruned", settings,
        name=options.name, device=None if options.device == "none" else options.device, latency_shape=shape,
        data_folder=options.data, validation_images=options.held_out, validation_crop=options.held_out_crop,
        force=options.force, workers=options.workers, reference_folder=options.reference,
        on_round=lambda row: progress(Event("round", round_line(row))),
    )  # fmt: skip
    before, after = outcome.before, outcome.after
    lines = [f"MACs {before['macs'] / 1e9:.3f} G -> {after['macs'] / 1e9:.3f} G "
             f"({(after['macs'] / before['macs'] - 1) * 100:+.1f} %); held-out PSNR {outcome.baseline_psnr:.3f} -> "
             f"{outcome.final_psnr:.3f} dB"]  # fmt: skip
    if outcome.reference_psnr is not None:
        lines.append(f"reference {options.reference}: {outcome.reference_psnr:.3f} dB held-out; pruned against it "
                     f"{outcome.final_psnr - outcome.reference_psnr:+.3f} dB")  # fmt: skip
    if outcome.control_psnr is not None:
        lines.append(f"unpruned control after the same fine-tunes: {outcome.control_psnr:.3f} dB; cost of the cut "
                     f"{outcome.final_psnr - outcome.control_psnr:+.3f} dB")  # fmt: skip
    lines.append(f"pruned submission: {folder} (report: {folder / REPORT_FILE})")
    return Report(folder=folder, lines=lines)
