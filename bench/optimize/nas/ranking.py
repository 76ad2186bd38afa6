"""Does the supernet rank candidates as standalone training does? Kendall's tau over a spread of candidates.

A weight-sharing search is only as good as the order its supernet puts candidates in. The check:

1. take ``count`` distinct evaluated candidates spread evenly over the search log's held-out PSNR
   range (sorted by supernet PSNR, the ones at evenly spaced positions, both ends included);
2. train each from scratch as a standalone ``nas-sr`` model for ``steps`` steps (same seed, same
   training patches for every candidate; pattern and block masks computed on the initial weights
   and kept fixed), then bake its masks and score it on the same held-out split;
3. Kendall's rank correlation (tau-b, ``scipy.stats.kendalltau``) between the supernet PSNRs and
   the standalone PSNRs: 1 is the same order, 0 no relation, -1 the reverse order.

Its p-value is the two-sided one of the null "no association" (exact for small samples without
ties). A short standalone training is itself a proxy for full training; the report says how short.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from scipy.stats import kendalltau

from bench.errors import SearchError
from bench.models.nas_arch import NasSR
from bench.optimize.finetune import TrainingSide
from bench.optimize.nas.schemes import bake_masks
from bench.optimize.nas.search import Evaluated
from bench.optimize.nas.space import Candidate
from bench.optimize.nas.supernet import attach_candidate_masks

MIN_CANDIDATES = 3  # fewer gives no usable rank correlation


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate of the check: its supernet PSNR (search log) and its standalone PSNR, both in dB."""

    description: str
    candidate: dict
    supernet_psnr: float
    standalone_psnr: float
    predicted_ms: float
    params: int


@dataclass(frozen=True)
class RankingCheck:
    """The candidates, the standalone training length and Kendall's tau-b with its two-sided p-value."""

    candidates: list[RankedCandidate]
    steps: int
    tau: float
    p_value: float

    def to_json(self) -> dict:
        return {"steps": self.steps, "kendall_tau": self.tau, "p_value": self.p_value,
                "candidates": [asdict(c) for c in self.candidates]}  # fmt: skip

    def summary(self) -> str:
        return (f"supernet ranking against {self.steps}-step standalone training: Kendall tau {self.tau:+.3f} "
                f"(p = {self.p_value:.3g}) over {len(self.candidates)} candidates")  # fmt: skip


def ranking_rows(ranking: dict) -> list[list[str]]:
    """Table cells (candidate, supernet dB, standalone dB, predicted ms) of a ranking check stored as
    :meth:`RankingCheck.to_json` (a report's ``ranking``), for the CLI and the model card."""
    return [[c["description"], f"{c['supernet_psnr']:.3f}", f"{c['standalone_psnr']:.3f}", f"{c['predicted_ms']:.1f}"]
            for c in ranking["candidates"]]  # fmt: skip


def spread_candidates(log: list[Evaluated], count: int) -> list[Evaluated]:
    """``count`` distinct candidates of ``log`` at evenly spaced positions of its supernet-PSNR order."""
    distinct: dict[str, Evaluated] = {}
    for row in log:
        distinct.setdefault(json.dumps(row.candidate, sort_keys=True), row)
    ordered = sorted(distinct.values(), key=lambda r: (r.psnr, r.description))
    if len(ordered) <= count:
        return ordered
    positions = sorted({round(i * (len(ordered) - 1) / (count - 1)) for i in range(count)})
    return [ordered[p] for p in positions]


def train_standalone(candidate: Candidate, scale: int, side: TrainingSide, steps: int, lr: float, seed: int) -> float:
    """Held-out PSNR (dB) of ``candidate`` trained from scratch for ``steps`` steps on the first training samples
    (every candidate sees the same patches; its masks fixed from the initial weights)."""
    torch.manual_seed(seed)
    model = NasSR(scale, **candidate.arch_args())
    attach_candidate_masks(model, candidate)
    side.next_sample = 0
    side.finetune(model, steps, lr)
    bake_masks(model)
    return side.score(model.eval())


def ranking_check(
    log: list[Evaluated], scale: int, side: TrainingSide, count: int, steps: int, lr: float, seed: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> RankingCheck:  # fmt: skip
    """Train ``count`` spread candidates alone for ``steps`` steps each and correlate the two rankings."""
    if count < MIN_CANDIDATES:
        raise SearchError(f"a ranking check needs at least {MIN_CANDIDATES} candidates, not {count} "
                          "(--rank-candidates 0 skips it)")  # fmt: skip
    chosen = spread_candidates(log, count)
    if len(chosen) < MIN_CANDIDATES:
        raise SearchError(f"the search evaluated {len(chosen)} distinct candidates; the ranking check needs "
                         f"at least {MIN_CANDIDATES}")  # fmt: skip
    resume = side.next_sample
    rows = []
    for n, row in enumerate(chosen, 1):
        if progress:
            progress("ranking check", n, len(chosen))
        psnr = train_standalone(Candidate.from_json(row.candidate), scale, side, steps, lr, seed)
        rows.append(RankedCandidate(row.description, row.candidate, row.psnr, psnr, row.latency_ms, row.params))
    side.next_sample = resume
    result = kendalltau([r.supernet_psnr for r in rows], [r.standalone_psnr for r in rows])
    tau, p_value = float(result.statistic), float(result.pvalue)
    if math.isnan(tau):  # every supernet or every standalone score equal: no order to compare
        tau, p_value = 0.0, 1.0
    return RankingCheck(rows, steps, tau, p_value)
