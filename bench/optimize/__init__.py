"""Optimisation methods applied to submissions: each takes a baseline and writes a new, derived submission."""

from bench.optimize.lightweight import REWRITES, OptimizeError, plan_lightweight, run_lightweight

__all__ = ["REWRITES", "OptimizeError", "plan_lightweight", "run_lightweight"]
