"""Optimisation methods applied to submissions: each takes a baseline (or a task) and writes a new,
derived submission. The interface and registry are :mod:`bench.optimize.methods`; the registered
methods' options are :mod:`bench.optimize.options`. This package imports nothing heavy itself."""
