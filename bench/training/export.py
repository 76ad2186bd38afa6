"""Turning a finished run into a submission folder: weights, manifest, model card.

``model.safetensors`` (the state dict, no pickle), ``submission.yaml`` (format safetensors, the
registered architecture with its full arguments, tags, ``derived_from``, ``training_data``) and
``MODEL_CARD.md`` (recipe, data and its fingerprint, the exact command, wall time, hardware,
params / MACs, validation scores, sha256 of the weights), ``recipe.yaml`` (the effective recipe,
which ``bench optimize`` starts from) and ``training-metrics.jsonl`` (a copy of the run's
``metrics.jsonl``: the loss and validation curve behind the card). The folder is read back with
:func:`bench.submission.load_submission` before this returns, so what is written always loads.
"""

from __future__ import annotations

import copy
import hashlib
import platform
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.provenance import environment
from bench.submission_writer import MODEL_CARD, WEIGHTS, Weights, manifest_of, write_submission
from bench.tasks import Task
from bench.training.checkpoint import sha256_file
from bench.training.data import ImageCache
from bench.training.init import resolve_weights
from bench.training.loop import METRICS_LOG, TrainResult
from bench.training.recipe import Recipe

RECIPE_FILE = "recipe.yaml"  # the effective recipe, for retraining and for bench optimize
TRAINING_METRICS = "training-metrics.jsonl"  # the run's metrics.jsonl, shipped with the weights


def macs_at(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass at ``shape`` (counted on the meta device: no compute)."""
    meta = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        meta(torch.zeros(shape, device="meta"))
    return int(counter.get_total_flops() // 2)


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def data_fingerprint(cache: ImageCache) -> str:
    """sha256 over the training images' names and file bytes, in name order."""
    digest = hashlib.sha256()
    for name in cache.names:
        digest.update(name.encode())
        digest.update((cache.folder / name).read_bytes())
    return digest.hexdigest()


def architecture_args(recipe: Recipe, task: Task) -> dict[str, Any]:
    """The recipe's arguments plus the task facts the architecture takes (e.g. ``scale``), made explicit."""
    from bench.models import MODELS

    args = dict(recipe.architecture.args)
    for key in MODELS[recipe.architecture.name].task_args:
        args.setdefault(key, {"scale": task.scale}.get(key))
    return args


def export_submission(
    model: nn.Module,
    recipe: Recipe,
    task: Task,
    folder: Path,
    result: TrainResult,
    cache: ImageCache,
    device: torch.device,
    command: str | None,
    input_shape: tuple[int, ...],
) -> Path:
    """Write the submission folder for ``model`` trained by ``recipe``; returns the folder.

    ``input_shape`` is where MACs are counted: the task's latency shape, or for a model whose
    input differs from the task's (packed raw), the input that gives the same output size.
    """
    weights = Weights.of(model.state_dict(), {"recipe": recipe.name, "architecture": recipe.architecture.name})
    degradation, params = recipe.degradation()
    crop = recipe.data.patch_size
    training_data = (
        f"{cache.folder.name} ({len(cache.names)} images, sha256 {data_fingerprint(cache)[:16]}"
        f"{'' if cache.prescale is None else f', each downscaled x{cache.prescale:g} first'}); inputs made by "
        f"degradation {degradation} {params} on random crops (input patch {crop}x{crop}), seed {recipe.seed}"
    )
    tags = ["reference", "trained", *recipe.export.tags]
    args = architecture_args(recipe, task)
    manifest = manifest_of({
        "name": recipe.export.name or recipe.name,
        "team": recipe.export.team,
        "tasks": recipe.export.tasks or [recipe.task],
        "format": "safetensors",
        "architecture": {"name": recipe.architecture.name, "args": args},
        "files": {"weights": WEIGHTS},
        "tags": list(dict.fromkeys(tags)),
        "derived_from": recipe.export.derived_from,
        "training_data": training_data,
        "licence": recipe.export.licence,
        "description": recipe.export.description or recipe.description,
    })  # fmt: skip
    params_count = sum(p.numel() for p in model.parameters())
    try:
        macs = f"{macs_at(model, input_shape) / 1e9:.3f} G"
    except (RuntimeError, ValueError) as exc:  # a count must not lose a finished run
        macs = f"not counted ({type(exc).__name__}: {exc})"
    env = environment()
    loss_name = recipe.loss + (" on Y" if recipe.loss_space == "y" else "")
    start = f"the architecture's initialisation, seed {recipe.seed}"
    if recipe.init is not None:
        source = resolve_weights(recipe.init.weights)
        start = f"`{recipe.init.weights}` (match {recipe.init.match}; sha256 `{sha256_file(source)[:16]}`)"
    final_loss = "-" if result.loss is None else f"{result.loss:.5f}"
    validation = "not run"
    if result.validation is not None and recipe.validation is not None:
        v = result.validation
        validation = (f"{recipe.validation.task}, first {int(v['images'])} images: PSNR {v['psnr']:.3f} dB, "
                      f"SSIM {v['ssim']:.4f} (monitoring only; score the folder with `bench score`)")  # fmt: skip
    card = f"""# {manifest.name}

{manifest.description or recipe.name}

| | |
|---|---|
| architecture | `{recipe.architecture.name}` {args} |
| parameters | {params_count:,} |
| MACs | {macs} at input {"x".join(map(str, input_shape))} (task {task.id} latency size) |
| training task | `{recipe.task}` (degradation `{degradation}` {params}) |
| training data | {training_data} |
| initialised from | {start} |
| steps | {result.step} x batch {recipe.data.batch_size}, loss {loss_name}, final loss {final_loss} |
| validation | {validation} |
| wall time | {result.wall_s:.1f} s |
| hardware | {hardware(device)} |
| software | bench {env["bench_version"]}, git {env["git_commit"]}, python {env["python"]} |
| weights | `{WEIGHTS}`, sha256 `{weights.sha256}` |

## Command

```
{command or f"bench train <recipe {recipe.name}>"}
```

## Recipe

```yaml
{yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False).rstrip()}
```

## Scoring

```
bench score {folder} --task {recipe.task}
```
"""
    texts = {MODEL_CARD: card, RECIPE_FILE: yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)}
    write_submission(folder, manifest, weights, texts=texts, copies={TRAINING_METRICS: result.out_dir / METRICS_LOG},
                     task_values={"scale": task.scale})  # fmt: skip
    return folder
