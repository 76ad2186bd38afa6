"""Fine-tuning and in-the-loop validation for the optimisers, on the training side only (never a test set).

``TrainingSide.from_recipe`` splits the clean training photos of a recipe: the last
``validation_images`` (in name order) become the validation split and are never trained on; the
rest feed a :class:`~bench.training.data.PatchSampler` with the recipe's patch size, batch size,
augmentation and degradation. The validation split is a centred crop of each held-out photo
(``crop`` clean pixels, a multiple of the size ratio), degraded by the same code seeded per image,
and scored with the task's own metric protocol (:func:`bench.training.validate.evaluate`).

``finetune`` runs Adam on the recipe's loss for a number of steps (cosine learning rate); its sample counter carries on
across calls, so each round of an optimiser sees new patches.

**Distillation.** Given a frozen ``teacher`` and a weight ``w`` (``distill``), the loss of a batch
``(x, y)`` is ``(1 - w) * L(f(x), y) + w * L(f(x), t(x))``, with ``L`` the recipe's loss, ``f``
the model being tuned and ``t`` the teacher (Hinton et al.'s output matching, as a regression).
With ``w = 1`` the model learns the teacher's function and nothing beyond it, so a pruned model
distilled from its own baseline cannot gain from the extra training: its PSNR against the
baseline's is the cost of the cut alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from bench.data.degradations import apply_degradation
from bench.data.pipeline import Sample, model_view
from bench.data.seeding import image_rng
from bench.tasks import Task
from bench.training.data import ImageCache, PatchDataset, PatchSampler, TrainingDataError
from bench.training.loop import StepBatches, loss_function, resolve_device
from bench.training.recipe import Recipe, training_folder
from bench.training.validate import ValidationSet, evaluate


@dataclass
class TrainingSide:
    """Fine-tuning batches and a held-out validation split, both from the recipe's training photos."""

    recipe: Recipe
    sampler: PatchSampler
    validation: ValidationSet
    device: torch.device
    next_sample: int = 0  # global index of the next training sample (carries on across fine-tunes)
    held_out: tuple[str, ...] = field(default_factory=tuple)
    workers: int = 0  # data-loader processes (batches do not depend on it)

    @classmethod
    def from_recipe(
        cls, recipe: Recipe, data_folder: Path | None = None, validation_images: int = 8, crop: int = 192,
        device: str = "auto", workers: int = 0,
    ) -> TrainingSide:  # fmt: skip
        task = recipe.training_task()
        cache = ImageCache.load(training_folder(recipe, data_folder), task.data.colour, recipe.data.prescale)
        if len(cache.images) <= validation_images:
            raise TrainingDataError(
                f"{cache.folder} has {len(cache.images)} images: too few to hold {validation_images} out for validation"
            )
        split = len(cache.images) - validation_images
        train_cache = replace(cache, names=cache.names[:split], images=cache.images[:split])
        name, params = recipe.degradation()
        sampler = PatchSampler(train_cache, (name, params), recipe.data.patch_size, recipe.data.augmentation,
                               recipe.seed, recipe.data.patches_per_epoch, task.data.colour)  # fmt: skip
        size = crop // sampler.ratio * sampler.ratio
        samples = []
        for image_name, image in zip(cache.names[split:], cache.images[split:], strict=True):
            if min(image.shape[:2]) < size:
                raise TrainingDataError(f"held-out image {image_name} is smaller than the {size}px validation crop")
            top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
            clean = np.ascontiguousarray(image[top : top + size, left : left + size])
            model_input, target = apply_degradation(name, clean, image_rng(recipe.seed, image_name, "held-out"), params)
            samples.append(
                Sample(image_name, model_view(np.asarray(model_input, np.float32), task.data.colour), target, {})
            )
        validation = ValidationSet(task, tuple(samples))
        return cls(recipe, sampler, validation, resolve_device(device), 0, cache.names[split:], workers)

    def score(self, model: nn.Module) -> float:
        """Mean PSNR (dB) of ``model`` on the held-out split, by the task's protocol."""
        model.to(self.device)
        return evaluate(model, self.validation, self.device)["psnr"]

    def finetune(
        self, model: nn.Module, steps: int, lr: float, on_step: Callable[[int, float], None] | None = None,
        teacher: nn.Module | None = None, distill: float = 0.0,
    ) -> float | None:  # fmt: skip
        """``steps`` Adam steps on new training patches, the learning rate falling from ``lr`` to ``lr / 100``
        on a cosine (recover fast, then settle); the mean loss (None if no step). ``on_step(step, loss)``
        is called after every step (a progress bar). ``distill`` in [0, 1] weighs the loss against a
        frozen ``teacher``'s output (module docstring)."""
        if steps <= 0:
            return None
        if not 0.0 <= distill <= 1.0:
            raise ValueError(f"distill is a weight in [0, 1], not {distill}")
        if distill > 0 and teacher is None:
            raise ValueError("distillation needs a teacher model")
        if teacher is not None:
            teacher.to(self.device).eval()
        model.to(self.device).train()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 100)
        loss_fn = loss_function(self.recipe.loss, self.recipe.loss_space)
        batch = self.recipe.data.batch_size
        first = self.next_sample // batch
        loader = DataLoader(PatchDataset(self.sampler), batch_sampler=StepBatches(first, first + steps, batch),
                            num_workers=self.workers)  # fmt: skip
        total = torch.zeros(())
        for step, (x, y) in enumerate(loader, 1):
            x, y = x.to(self.device), y.to(self.device)
            out = model(x).float()
            loss = loss_fn(out, y)
            if teacher is not None and distill > 0:
                with torch.no_grad():
                    taught = teacher(x).float()
                loss = (1 - distill) * loss + distill * loss_fn(out, taught)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach().cpu()
            if on_step is not None:
                on_step(step, float(loss.detach()))
        self.next_sample = (first + steps) * batch
        model.eval()
        return float(total) / steps


@dataclass(frozen=True)
class SearchSettings:
    """What every architecture search shares: how candidates train (peak ``lr`` of each cosine, batch,
    model-input patch, seed) and the training photos held out to rank them (count, centre crop)."""

    lr: float = 1e-3
    batch_size: int = 16
    patch_size: int = 48
    seed: int = 0
    validation_images: int = 8
    validation_crop: int = 192


@dataclass(frozen=True)
class SearchTraining:
    """How a search trains its models (supernet, candidates, the winner's fine-tune): L1 on RGB, Adam, cosine."""

    patch_size: int
    batch_size: int
    lr: float
    steps: int
    seed: int
    patches_per_epoch: int = 1600


def search_recipe(method: str, task: Task, architecture: str, args: dict[str, Any], training: SearchTraining,
                  declares: str, tags: list[str]) -> Recipe:  # fmt: skip
    """The recipe a search trains with on ``task``'s degradation, written out with its result."""
    return Recipe.model_validate({
        "name": f"{method}-{task.id}", "task": task.id,
        "description": f"bench optimize {method} on {task.id}: the training of its candidates and of its result",
        "architecture": {"name": architecture, "args": args},
        "data": {"patch_size": training.patch_size, "batch_size": training.batch_size,
                 "patches_per_epoch": training.patches_per_epoch},
        "loss": "l1", "optimizer": {"name": "adam", "lr": training.lr},
        "schedule": {"steps": max(1, training.steps), "kind": "cosine", "min_lr": training.lr / 100},
        "seed": training.seed, "export": {"tasks": [declares], "tags": tags},
    })  # fmt: skip
