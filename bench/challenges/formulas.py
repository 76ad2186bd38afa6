"""Challenge score formulas, registered by name; a track YAML names one with its constants.

* ``ntire2020-fps`` (NTIRE 2020 image deblurring, smartphone track)::

      FPS = 1000 / runtime_ms;  fps_score = log2(min(FPS, fps_cap) / base_fps)
      score = PSNR + weight * fps_score                                  (higher is better)

  with fps_cap 45, base_fps 8.23 (the baseline's 121 ms on the Pixel 4 GPU), weight 0.5.
* ``mai-sr`` (Mobile AI 2021/2022 quantised SR)::

      score = 2^(2 PSNR) / (C * runtime_ms)                             (higher is better)

  C = 2^48 (2021) or 10 * 2^48 (2022); the form is confirmed, C was fitted to published rows.
* ``ntire-esr`` (NTIRE 2024/2025 efficient SR, after a PSNR gate)::

      score = w_r exp(2 R / R0) + w_f exp(2 F / F0) + w_p exp(2 P / P0)  (lower is better)

  R runtime, F FLOPs, P params, each against the baseline's (R0, F0, P0); weights 0.7/0.15/0.15,
  so the baseline itself scores e^2 = 7.389.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.registry import Registry


@dataclass(frozen=True)
class Entry:
    """What a formula may use about one entry (None where the track does not need it)."""

    psnr: float
    runtime_ms: float
    flops: float | None = None
    params: float | None = None


Terms = Callable[..., dict[str, float]]


@dataclass(frozen=True)
class Formula:
    """A score formula: the named terms it combines (what the board's breakdown shows), how they combine
    into the score, and its direction."""

    name: str
    terms: Terms
    higher_is_better: bool
    combine: Callable[[float], float] = lambda total: total  # applied to the sum of the terms


FORMULAS = Registry[Formula]("score formula")
HIGHER_IS_BETTER: dict[str, bool] = {}


def register_formula(
    name: str, higher_is_better: bool, combine: Callable[[float], float] | None = None
) -> Callable[[Terms], Terms]:
    """Register the terms function as formula ``name``; its score is ``combine(sum of the terms)``."""

    def wrap(terms: Terms) -> Terms:
        FORMULAS.add(name, Formula(name, terms, higher_is_better, combine or (lambda total: total)))
        HIGHER_IS_BETTER[name] = higher_is_better
        return terms

    return wrap


@register_formula("ntire2020-fps", higher_is_better=True)
def ntire2020_fps_terms(entry: Entry, base_fps: float, fps_cap: float, weight: float) -> dict[str, float]:
    """score = ``PSNR term`` + ``speed term`` (weight * log2(min(FPS, cap) / base FPS))."""
    fps = 1000.0 / entry.runtime_ms
    return {"PSNR term": entry.psnr, "speed term": weight * math.log2(min(fps, fps_cap) / base_fps)}


@register_formula("mai-sr", higher_is_better=True, combine=lambda log2_score: 2.0**log2_score)
def mai_sr_terms(entry: Entry, c: float) -> dict[str, float]:
    """log2(score) = ``quality term`` (2 PSNR) + ``runtime term`` (-log2(C runtime_ms))."""
    return {"quality term (log2)": 2.0 * entry.psnr, "runtime term (log2)": -math.log2(c * entry.runtime_ms)}


@register_formula("ntire-esr", higher_is_better=False)
def ntire_esr_terms(
    entry: Entry,
    runtime_ms: float,
    flops: float,
    params: float,
    w_runtime: float = 0.7,
    w_flops: float = 0.15,
    w_params: float = 0.15,
) -> dict[str, float]:
    """score = ``runtime term`` + ``FLOPs term`` + ``params term`` (each w exp(2 x / x0))."""
    if entry.flops is None or entry.params is None:
        raise ValueError("the ntire-esr score needs the entry's FLOPs and parameter count")
    if min(runtime_ms, flops, params) <= 0:
        raise ValueError(
            f"the ntire-esr baseline needs positive runtime, FLOPs and params (got {runtime_ms}, {flops}, {params})"
        )
    return {
        "runtime term": w_runtime * math.exp(2 * entry.runtime_ms / runtime_ms),
        "FLOPs term": w_flops * math.exp(2 * entry.flops / flops),
        "params term": w_params * math.exp(2 * entry.params / params),
    }


def breakdown(formula: str, entry: Entry, constants: dict[str, float]) -> dict[str, float]:
    """The named terms of ``entry``'s score (see each terms function's docstring for how they combine)."""
    return FORMULAS[formula].terms(entry, **constants)


def score(formula: str, entry: Entry, constants: dict[str, float]) -> float:
    """The track score of ``entry`` with the formula ``formula`` and its constants."""
    chosen = FORMULAS[formula]
    return chosen.combine(sum(chosen.terms(entry, **constants).values()))
