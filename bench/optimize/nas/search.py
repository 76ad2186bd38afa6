"""Compiler-aware search over the supernet with Bayesian optimisation (Optuna's TPE), under a latency budget.

Two searches, as in Zhan et al.:

1. **Architecture and scheme search**: trunk width, a block per cell, and a pruning scheme per
   layer (each scheme at its default ratio, ``space.DEFAULT_RATIO``).
2. **Pruning-ratio search**: with blocks and schemes fixed to the best of (1), the ratio of every
   pruned layer, from ``space.RATIOS``.

A trial's value is the held-out PSNR (dB) of its path through the trained supernet; its
constraint is the *predicted* latency from the per-layer table (:class:`LatencyModel`) minus the
budget, so TPE learns which region is feasible (``Trial.set_constraint``). Every trial is logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import torch

from bench.errors import SearchError
from bench.models.nas_arch import NasSR
from bench.optimize.finetune import TrainingSide
from bench.optimize.nas.space import CELL_LAYERS, Candidate, CellChoice, SearchSpace, layer_menu
from bench.optimize.nas.supernet import PathOf, SuperNet
from bench.runtime.devices import Device
from bench.runtime.layer_table import LatencyTable, decompose, fill, predict
from bench.runtime.protocol import LatencySettings


class LatencyModel:
    """Predicted latency (ms) of a candidate on ``device`` at ``shape``: the sum of its measured units.

    The table is loaded from and saved to ``path`` (a cache shared by every search on this device);
    configurations it lacks are measured on first use.
    """

    def __init__(self, device: Device, shape: tuple[int, ...], scale: int, path: Path, settings: LatencySettings,
                 progress: Callable[[str, int, int], None] | None = None) -> None:  # fmt: skip
        self.device, self.shape, self.scale, self.path, self.settings = device, shape, scale, path, settings
        self.progress = progress
        self.table = LatencyTable.load(path) if path.is_file() else LatencyTable(device=device.id)
        if self.table.device != device.id:
            raise ValueError(f"{path} is the latency table of {self.table.device}, not {device.id}")
        self.measured_units = 0
        self._cache: dict[str, float] = {}

    def __call__(self, candidate: Candidate) -> float:
        key = json.dumps(candidate.arch_args(), sort_keys=True)
        if key not in self._cache:
            self._cache[key] = self.model(NasSR(self.scale, **candidate.arch_args()))
        return self._cache[key]

    def model(self, model: torch.nn.Module) -> float:
        units, unmodelled = decompose(model.cpu().eval(), self.shape)
        if unmodelled:
            raise ValueError(f"the latency model cannot see {', '.join(unmodelled)}")
        todo = len(self.table.missing(units))
        if todo:
            fill(self.table, units, self.device, self.settings, self.progress)
            self.measured_units += todo
            self.table.save(self.path)
        return predict(self.table, units, unmodelled).total_ms


@dataclass
class Evaluated:
    """One evaluated candidate: the search log's row."""

    phase: str
    number: int
    candidate: dict[str, Any]
    description: str
    psnr: float
    latency_ms: float  # predicted by the latency model
    feasible: bool
    params: int


def suggest_architecture(trial: optuna.Trial, space: SearchSpace) -> Candidate:
    """Phase 1: width, block per cell, scheme per layer (default ratios)."""
    width = int(trial.suggest_categorical("width", list(space.widths)))
    cells = []
    for i in range(space.cells):
        block = str(trial.suggest_categorical(f"cell{i}", list(space.blocks)))
        schemes = tuple(
            str(trial.suggest_categorical(f"cell{i}.{block}.{layer.name}", list(layer_menu(layer))))
            for layer in CELL_LAYERS[block]
        )
        cells.append(CellChoice(block, schemes))
    return Candidate(width, tuple(cells))


def suggest_ratios(trial: optuna.Trial, base: Candidate, space: SearchSpace) -> Candidate:
    """Phase 2: the ratio of every pruned layer of ``base`` (blocks and schemes fixed)."""
    cells = []
    for i, cell in enumerate(base.cells):
        ratios = tuple(
            0.0 if scheme == "dense"
            else float(trial.suggest_categorical(f"cell{i}.{layer.name}.ratio", list(space.ratios)))
            for layer, scheme in zip(CELL_LAYERS[cell.block], cell.schemes, strict=True)
        )  # fmt: skip
        cells.append(CellChoice(cell.block, cell.schemes, ratios))
    return Candidate(base.width, tuple(cells))


def _params(candidate: Candidate) -> int:
    model = NasSR(2, **candidate.arch_args())
    return sum(p.numel() for p in model.parameters())


class Search:
    """Runs the two Optuna studies over a trained supernet; ``log`` holds every evaluated candidate."""

    def __init__(self, supernet: SuperNet, side: TrainingSide, latency: LatencyModel, budget_ms: float, seed: int,
                 on_trial: Callable[[Evaluated], None] | None = None) -> None:  # fmt: skip
        self.supernet, self.side, self.latency, self.budget_ms, self.seed = supernet, side, latency, budget_ms, seed
        self.on_trial = on_trial
        self.log: list[Evaluated] = []
        self.wall_s: dict[str, float] = {}
        self._psnr: dict[str, float] = {}

    def evaluate(self, candidate: Candidate, phase: str, number: int) -> Evaluated:
        """Held-out PSNR of ``candidate``'s path and its predicted latency (a repeated candidate is not rescored)."""
        key = json.dumps(candidate.to_json(), sort_keys=True)
        if key not in self._psnr:
            with torch.no_grad():
                self._psnr[key] = self.side.score(PathOf(self.supernet, candidate))
        psnr = self._psnr[key]
        latency = self.latency(candidate)
        row = Evaluated(phase, number, candidate.to_json(), candidate.describe(), psnr, latency,
                        latency <= self.budget_ms, _params(candidate))  # fmt: skip
        self.log.append(row)
        if self.on_trial is not None:
            self.on_trial(row)
        return row

    def _study(self, phase: str, trials: int, suggest: Callable[[optuna.Trial], Candidate],
               seeds: list[dict[str, Any]]) -> None:  # fmt: skip
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=max(1, min(10, trials // 3)))
        study = optuna.create_study(direction="maximize", sampler=sampler, study_name=f"nas-{phase}")
        for params in seeds:
            study.enqueue_trial(params)

        def objective(trial: optuna.Trial) -> float:
            row = self.evaluate(suggest(trial), phase, trial.number)
            trial.set_user_attr("latency_ms", row.latency_ms)
            trial.set_constraint("latency", row.latency_ms - self.budget_ms)  # feasible when <= 0
            return row.psnr

        start = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        self.wall_s[phase] = time.perf_counter() - start

    def best(self, *phases: str) -> Evaluated:
        """The evaluated candidate of ``phases`` with the highest PSNR within the budget."""
        rows = [r for r in self.log if r.phase in phases]
        feasible = [r for r in rows if r.feasible]
        if not feasible:
            fastest = min(rows, key=lambda r: r.latency_ms)
            raise SearchError(
                f"no candidate met the {self.budget_ms:g} ms budget (fastest predicted: {fastest.latency_ms:.1f} ms, "
                f"{fastest.description}); raise --budget-ms or allow smaller widths"
            )
        return max(feasible, key=lambda r: r.psnr)

    def run(self, space: SearchSpace, trials: int, ratio_trials: int) -> Candidate:
        """Both phases; the best feasible candidate of either."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        smallest = {"width": min(space.widths), **{f"cell{i}": "identity" for i in range(space.cells)}}
        seeds = [smallest] if "identity" in space.blocks else []
        self._study("architecture", trials, lambda t: suggest_architecture(t, space), seeds)
        base = Candidate.from_json(self.best("architecture").candidate)
        if ratio_trials > 0 and any(s != "dense" for c in base.cells for s in c.schemes):
            self._study("ratios", ratio_trials, lambda t: suggest_ratios(t, base, space), [])
        return Candidate.from_json(self.best("architecture", "ratios").candidate)

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.log]
