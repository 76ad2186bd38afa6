"""Architecture-aware iterative pruning (after Wang et al., ICIP 2019), judged on a held-out split.

Each round:

1. **Groups.** ``torch-pruning``'s dependency graph splits the output channels of the prunable
   convs into groups of coupled layers. The trunk of a residual network is one group: its head,
   every block's last conv and the input of the upsampler. A U-Net's concat skips are coupled
   the same way, and batch norms and PReLUs follow their convs. The layers that feed a pixel
   shuffle or the model's output keep their outputs, so sub-pixel groups and the image stay
   whole; their inputs are still pruned. Pixel (un)shuffles enter the graph as boundaries with
   their traced channel counts (:func:`dependency_graph`): otherwise torch-pruning counts a
   shuffle's output as r^2 times too wide, finds no concat offsets, and couples every U-Net skip
   to an upsampler that must stay whole, so no skip could be cut.
2. **Saliency and threshold.** Channel saliency is the L2 norm of its filters, averaged over the
   group. In a group of saliencies ``s``, channel *i* is a candidate when ``s_i < q * std(s)``:
   the adaptive per-layer threshold, *q* times the spread of the layer's filter norms. A layer
   whose norms are bunched (the trunk of a trained EDSR: mean/std about 16) is left alone until
   *q* is large, while one with a wide spread (its resblocks' inner convs: mean/std 3.5 to 5) loses
   its weak filters first. A variant measured from the weakest filter (``s_i - min(s) < q std``)
   was tried and dropped: on the trained EDSR it marked 75 % of every inner layer at *q* = 1
   and cost 4.8 dB in one round.
3. **Hardware multiple.** The kept count is rounded *up* to a multiple of ``g`` (at least ``g``,
   at most the current count), and the lowest-saliency channels go. With ``max_cut``, a group
   keeps at least ``(1 - max_cut)`` of its channels per round (rounded up to ``g``). Where a
   layer's norms are bunched, the threshold sweeps across all of them within a small change of
   *q*: in the trained SID U-Net, q = 4.0 leaves two 64-channel convs with 8 channels each, and
   a one-shot q = 4.5 cut (44 % of the MACs) lost 0.50 dB after a 600-step fine-tune. The cap
   spreads such a collapse over several rounds with fine-tunes between. Every kept width is
   therefore a multiple of g, unless a layer was left untouched at its original width.
4. **Fine-tune and check.** The model is fine-tuned for ``finetune_steps`` on training patches,
   then scored on the held-out split (:mod:`bench.optimize.finetune`). If the PSNR is at least
   the baseline's minus ``tolerance_db``, the round is kept and *q* rises by ``q_step``.
   Otherwise the round is reverted, the step halves and *q* goes back to the last kept value
   plus the new step. The search ends when the step falls below ``q_step_min``, after
   ``max_rounds`` rounds, or once MACs fall to ``target_macs`` of the original.

Then comes a final fine-tune of ``final_steps``. The result is a dense, physically smaller model,
not masks: the ``pruned`` architecture of :mod:`bench.models.pruned_arch`.

**Unpruned control** (``control``). The kept model has had extra training: every kept round's
fine-tune and the final one. Part of its PSNR against the baseline is that training, not the
cut. With ``control`` on, an unpruned copy of the baseline replays exactly those fine-tunes (the
same step counts, learning rates and training patches, in the same order; reverted rounds'
fine-tunes are not replayed, as the kept model never kept them) and is scored on the same split.
``final_psnr - control_psnr`` is then the cost of the cut against an equally trained baseline.

**Distillation** (``distill`` = w > 0). Every fine-tune (and the control's replay) mixes the
recipe's loss against the ground truth with the same loss against the unpruned baseline's
output, weight w (:mod:`bench.optimize.finetune`). At w = 1 the pruned model only learns to
imitate the baseline, so an under-trained baseline no longer lends the pruned model the gain of
its extra training, and the PSNR against the baseline is the cost of the cut. The control then
stays the baseline itself: its loss against its own output is zero, and so are its gradients.

**Reference model** (``reference``). To prune an already pruned model further, pass the
original unpruned model as ``reference``: the tolerance is then measured against the
reference's held-out PSNR, and distillation imitates the reference, so that every stage of a
chain is judged against, and learns from, the same original.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from bench.optimize.finetune import TrainingSide
from bench.optimize.prune_graph import SHUFFLES, dependency_graph
from bench.runtime.complexity import count_complexity


@dataclass(frozen=True)
class PruneSettings:
    tolerance_db: float = 0.05  # largest PSNR drop (dB) on the held-out split that a round may cause
    multiple: int = 8  # g: kept channel counts are multiples of this
    q_start: float = 1.0  # threshold factor of the first round (times the std of a group's filter norms)
    q_step: float = 0.5
    q_step_min: float = 0.1
    max_cut: float | None = None  # the largest fraction of a group's channels cut in one round (None: no limit)
    max_rounds: int = 12
    target_macs: float | None = None  # stop once MACs <= this fraction of the original (None: as far as quality allows)
    finetune_steps: int = 200
    final_steps: int = 1000
    lr: float = 1e-4  # fine-tuning learning rate (peak of each fine-tune's cosine, down to lr / 100)
    control: bool = False  # also fine-tune an unpruned copy the same way (the cost of the cut at equal training)
    distill: float = 0.0  # weight of the loss against the unpruned baseline's output in every fine-tune (0: none)


@dataclass
class RoundLog:
    round: int
    q: float
    accepted: bool
    macs: int
    params: int
    traffic_bytes: int
    psnr: float
    latency_ms: float | None
    pruned_channels: int
    wall_s: float
    note: str = ""


@dataclass
class PruneOutcome:
    model: nn.Module
    baseline_psnr: float
    final_psnr: float
    rounds: list[RoundLog] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    kept_finetunes: list[tuple[int, int]] = field(default_factory=list)  # (first training sample, steps), in order
    control_psnr: float | None = None  # the unpruned baseline after the same fine-tunes (settings.control)
    reference_psnr: float | None = None  # held-out PSNR of the reference model, when one was given

    def log_rows(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rounds]


def output_layers(model: nn.Module, example: torch.Tensor) -> list[nn.Module]:
    """Convs whose outputs must stay whole: those feeding a PixelShuffle, and those producing the output."""
    keep: list[nn.Module] = []
    for module in model.modules():
        children = list(module.children())
        for previous, current in itertools.pairwise(children):
            if isinstance(current, nn.PixelShuffle):
                keep += [m for m in previous.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        out_channels = model.eval()(example).shape[1]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    keep += [m for m in convs if m.out_channels == out_channels]
    return list({id(m): m for m in keep}.values())


@dataclass(frozen=True)
class ChannelCut:
    root: str  # the root conv's module name
    channels: int  # before the cut
    kept: int
    drop: tuple[int, ...]  # indices of the channels removed


def plan_cuts(
    model: nn.Module, example: torch.Tensor, q: float, multiple: int, max_cut: float | None = None
) -> list[ChannelCut]:
    """The cut of every coupled group at threshold ``q`` (see the module docstring); groups left whole are omitted.
    ``max_cut``: the largest fraction of a group's channels removed (the kept count is rounded up to ``multiple``)."""
    import torch_pruning as tp

    names = {m: n for n, m in model.named_modules()}
    graph = dependency_graph(model, example)
    importance = tp.importance.GroupMagnitudeImportance(p=2, group_reduction="mean", normalizer=None)
    cuts = []
    ignored = output_layers(model, example) + [m for m in model.modules() if isinstance(m, SHUFFLES)]
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=[nn.Conv2d]):
        root = group[0].dep.target.module
        saliency = importance(group)
        if saliency is None:
            continue
        channels = int(saliency.numel())
        below = int((saliency < q * saliency.std()).sum()) if channels > 1 else 0
        kept = min(channels, max(multiple, math.ceil((channels - below) / multiple) * multiple))
        if max_cut is not None:
            kept = max(kept, min(channels, math.ceil(channels * (1 - max_cut) / multiple) * multiple))
        if kept >= channels:
            continue
        order = torch.argsort(saliency)  # lowest saliency first
        cuts.append(ChannelCut(names[root], channels, kept, tuple(sorted(int(i) for i in order[: channels - kept]))))
    return cuts


def apply_cuts(model: nn.Module, example: torch.Tensor, cuts: list[ChannelCut]) -> None:
    """Remove the planned channels (in place) through a fresh dependency graph of ``model``."""
    import torch_pruning as tp

    modules = dict(model.named_modules())
    graph = dependency_graph(model, example)
    for cut in cuts:
        group = graph.get_pruning_group(modules[cut.root], tp.prune_conv_out_channels, idxs=list(cut.drop))
        if not graph.check_pruning_group(group):
            raise RuntimeError(f"torch-pruning refused to prune {cut.root} to {cut.kept} channels")
        group.prune()


def conv_widths(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def summary(row: RoundLog, model: nn.Module) -> dict[str, Any]:
    """The before / after record of the report: a round's costs, its PSNR and the conv output widths."""
    return {"macs": row.macs, "params": row.params, "traffic_bytes": row.traffic_bytes, "latency_ms": row.latency_ms,
            "psnr": row.psnr, "widths": conv_widths(model)}  # fmt: skip


def prune_model(
    model: nn.Module,
    side: TrainingSide,
    settings: PruneSettings,
    example: torch.Tensor,
    cost_shape: tuple[int, ...],
    latency: Callable[[nn.Module], float | None] | None = None,
    on_round: Callable[[RoundLog], None] | None = None,
    reference: nn.Module | None = None,
) -> PruneOutcome:
    """Run the iterative search on a copy of ``model``; see the module docstring. ``reference``: the original
    model that the tolerance is measured against and distillation imitates (default ``model``)."""
    current = copy.deepcopy(model).cpu().eval()
    # A frozen copy of the original: the distillation teacher and, with a reference, the bar to judge against.
    original = copy.deepcopy(model if reference is None else reference).eval().requires_grad_(False)
    teacher = original if settings.distill > 0 else None
    began = time.perf_counter()

    def log(
        index: int, q: float, accepted: bool, candidate: nn.Module, psnr: float, pruned: int, note: str = ""
    ) -> RoundLog:
        cost = count_complexity(candidate.cpu().eval(), cost_shape)
        macs, params, traffic = int(cost.macs or 0), int(cost.params or 0), int(cost.conv_traffic_bytes or 0)
        row = RoundLog(index, q, accepted, macs, params, traffic, psnr,
                       latency(candidate) if latency is not None else None, pruned,
                       round(time.perf_counter() - began, 1), note)  # fmt: skip
        outcome.rounds.append(row)
        if on_round is not None:
            on_round(row)
        return row

    base_psnr = side.score(current)
    outcome = PruneOutcome(current, base_psnr, base_psnr)
    start = log(0, 0.0, True, current, base_psnr, 0, "baseline")
    judge_psnr = base_psnr
    if reference is not None:
        outcome.reference_psnr = judge_psnr = side.score(original)
    outcome.before = summary(start, current)
    q_kept, step = settings.q_start - settings.q_step, settings.q_step
    for index in range(1, settings.max_rounds + 1):
        q = q_kept + step
        candidate = copy.deepcopy(current).cpu()
        cuts = plan_cuts(candidate, example, q, settings.multiple, settings.max_cut)
        if not cuts:  # nothing under this threshold: raise q without spending a fine-tune
            log(index, q, False, candidate, outcome.rounds[-1].psnr, 0, "nothing below the threshold")
            q_kept = q
            continue
        apply_cuts(candidate, example, cuts)
        finetune = (side.next_sample, settings.finetune_steps)
        side.finetune(candidate, settings.finetune_steps, settings.lr, teacher=teacher, distill=settings.distill)
        psnr = side.score(candidate)
        pruned = sum(c.channels - c.kept for c in cuts)
        accepted = psnr >= judge_psnr - settings.tolerance_db
        row = log(index, q, accepted, candidate, psnr, pruned, "" if accepted else "reverted")
        if accepted:
            current, q_kept = candidate.cpu(), q
            outcome.kept_finetunes.append(finetune)
            if settings.target_macs is not None and row.macs <= settings.target_macs * start.macs:
                break
        else:
            step /= 2
            if step < settings.q_step_min:
                break
    outcome.kept_finetunes.append((side.next_sample, settings.final_steps))
    side.finetune(current, settings.final_steps, settings.lr, teacher=teacher, distill=settings.distill)
    outcome.model = current.cpu().eval()
    outcome.final_psnr = side.score(outcome.model)
    end = log(len(outcome.rounds), q_kept, True, outcome.model, outcome.final_psnr, 0, "final fine-tune")
    outcome.after = summary(end, outcome.model)
    if settings.control:
        outcome.control_psnr = control_psnr(model, side, outcome.kept_finetunes, settings.lr, teacher,
                                            settings.distill)  # fmt: skip
    return outcome


def control_psnr(
    model: nn.Module, side: TrainingSide, finetunes: list[tuple[int, int]], lr: float,
    teacher: nn.Module | None = None, distill: float = 0.0,
) -> float:  # fmt: skip
    """Held-out PSNR of an unpruned copy of ``model`` after replaying ``finetunes`` (first sample, steps):
    the same patches, steps, learning rates and distillation as the kept path (``side``'s sample counter
    is restored)."""
    control, resume = copy.deepcopy(model).cpu(), side.next_sample
    for first, steps in finetunes:
        side.next_sample = first
        side.finetune(control, steps, lr, teacher=teacher, distill=distill)
    side.next_sample = resume
    return side.score(control.eval())


@dataclass(frozen=True)
class CutPreview:
    """A one-shot cut of the unpruned model at ``q``: its costs as fractions of the model's, and the cut layers."""

    q: float
    macs_fraction: float
    params_fraction: float
    cuts: tuple[ChannelCut, ...]


def preview_cuts(
    model: nn.Module, example: torch.Tensor, cost_shape: tuple[int, ...], qs: list[float], multiple: int,
    max_cut: float | None = None,
) -> list[CutPreview]:  # fmt: skip
    """What one cut at each of ``qs`` would leave (no training, no scoring): for choosing ``q_start`` and a
    ``target_macs`` before a run. MACs and params are counted at ``cost_shape`` (NCHW)."""
    base = count_complexity(model.cpu().eval(), cost_shape)
    rows = []
    for q in qs:
        candidate = copy.deepcopy(model).cpu().eval()
        cuts = plan_cuts(candidate, example, q, multiple, max_cut)
        apply_cuts(candidate, example, cuts)
        cost = count_complexity(candidate.eval(), cost_shape)
        rows.append(CutPreview(q, (cost.macs or 0) / (base.macs or 1), (cost.params or 0) / (base.params or 1),
                               tuple(cuts)))  # fmt: skip
    return rows
