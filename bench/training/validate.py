"""Validation during training: the first N samples of a task, scored with the task's own metric protocol.

The samples are made once, before training starts (missing data fails then, not after an hour).
When the recipe replaces the degradation (``data.degradation``) and the validation task makes its
inputs from clean images, the replacement is applied to them too, seeded per image as the task
would. Validation is monitoring only: the exported weights are those of the last step, never a
checkpoint picked by its validation score (that would be selecting on a test set).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.data.degradations import apply_degradation
from bench.data.pipeline import Sample, make_sample, make_source, model_view, task_entries
from bench.data.seeding import image_rng
from bench.metrics.protocol import score_image
from bench.tasks import Task, get_task
from bench.training.recipe import DegradationSpec, ValidationSpec


@dataclass(frozen=True)
class ValidationSet:
    task: Task
    samples: tuple[Sample, ...]


def load_validation(spec: ValidationSpec, override: DegradationSpec | None, data_root: Path | None) -> ValidationSet:
    """The first ``spec.images`` samples of ``spec.task`` (with ``override`` as its degradation, if given)."""
    task = get_task(spec.task)
    source = make_source(task, data_root)
    samples = []
    for entry in islice(task_entries(task, source), spec.images):
        item = source.load(entry)
        if override is not None and task.degradation is not None:
            rng = image_rng(task.seed, item.id, override.name)
            model_input, target = apply_degradation(override.name, item.target, rng, dict(override.params))
            samples.append(Sample(item.id, model_view(model_input, task.data.colour), target, item.meta))
        else:
            samples.append(make_sample(task, item))
    return ValidationSet(task, tuple(samples))


def evaluate(model: nn.Module, validation: ValidationSet, device: torch.device) -> dict[str, float]:
    """Mean PSNR / SSIM of ``model`` (fp32, eval mode) over the validation samples; restores train mode."""
    was_training = model.training
    model.eval()
    psnrs, ssims = [], []
    try:
        with torch.no_grad():
            for sample in validation.samples:
                x = torch.from_numpy(np.ascontiguousarray(sample.input.transpose(2, 0, 1)))[None].to(device)
                output = model(x)[0].float().permute(1, 2, 0).cpu().numpy()
                score = score_image(output, sample.target, validation.task.metric)
                psnrs.append(score.psnr)
                ssims.append(score.ssim)
    finally:
        model.train(was_training)
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": float(len(psnrs))}
