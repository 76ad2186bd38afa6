"""``bench validate``: every check of a submission that does not need the test set.

For each task the submission declares: the model loads on the format's native device, and on
a probe input (seeded uniform [0, 1), 1 x C x 48 x 48, or the model file's own fixed shape) its
output must have the task's shape (N x C_out x s H x s W), be finite, be on the [0, 1] scale
(not 0..255), and be the same on two runs (determinism: max difference <= 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.budgets import guard_for
from bench.limits import Limits
from bench.runtime.devices import get_device
from bench.runtime.errors import BackendUnavailable, ConversionError
from bench.runtime.latency import load_on
from bench.submission import Submission, SubmissionError
from bench.tasks import Task

if TYPE_CHECKING:
    from torch import nn

PROBE_SIZE = 48
DETERMINISM_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Check:
    task: str
    name: str
    ok: bool
    detail: str


def _probe_shape(task: Task, model: object, layout: str) -> tuple[int, ...]:
    """The task's channels at the probe size; a TFLite file with a fixed height and width dictates them (a
    dynamic one, -1 in its shape signature, is probed at the probe size, not at its placeholder 1 x 1)."""
    shape = (1, task.input_channels, PROBE_SIZE, PROBE_SIZE)
    if isinstance(model, Path) and model.suffix.lower() == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        signature = [int(d) for d in Interpreter(model_path=str(model)).get_input_details()[0]["shape_signature"]]
        if len(signature) == 4:
            n, h, w = (signature[0], *signature[1:3]) if layout == "NHWC" else (signature[0], *signature[2:4])
            shape = (max(n, 1), task.input_channels, h if h > 0 else PROBE_SIZE, w if w > 0 else PROBE_SIZE)
    return shape


def check_task(
    submission: Submission, task: Task, model: nn.Module | Path | None = None, limits: Limits | None = None
) -> list[Check]:
    """The probe checks of ``submission`` for ``task`` (stops at the first check that cannot go on);
    ``model`` is the submission's built model when the caller has it already. The probe call is costed
    first (:mod:`bench.budgets`) and refused over ``limits``."""

    def check(name: str, ok: bool, detail: str) -> Check:
        return Check(task.id, name, ok, detail)

    try:
        if model is None:
            model = submission.model({"scale": task.scale})
        io = submission.manifest.contract
        loaded = load_on(get_device(submission.default_device), model, io)
        shape = _probe_shape(task, model, submission.manifest.layout)
        ghost = submission.ghost({"scale": task.scale}) if not isinstance(model, Path) else None
        guard_for(submission.manifest.name, model, ghost, limits or Limits(), io).check(shape)
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        first, second = loaded.run(x), loaded.run(x)
    except (SubmissionError, ConversionError, BackendUnavailable, ValueError, RuntimeError) as exc:
        return [check("loads and runs", False, str(exc))]
    checks = [check("loads and runs", True, f"{submission.default_device}, probe input {'x'.join(map(str, shape))}")]
    scale = task.size_ratio
    channels = 1 if task.data.colour == "grey" else 3
    expected = (shape[0], channels, shape[2] * scale, shape[3] * scale)
    checks.append(check("output shape", first.shape == expected, f"{first.shape}, expected {expected}"))
    finite = bool(np.isfinite(first).all())
    checks.append(
        check("finite output", finite, "all finite" if finite else f"{int((~np.isfinite(first)).sum())} NaN/Inf values")
    )
    if finite:
        high, low = float(first.max()), float(first.min())
        on_scale = high <= 2.0 and low >= -1.0
        hint = "" if on_scale else " (outputs must be in [0, 1]; this looks like 0..255)" if high > 2.0 else ""
        checks.append(check("output scale [0, 1]", on_scale, f"range {low:.3g}..{high:.3g}{hint}"))
        difference = float(np.abs(first - second).max()) if first.shape == second.shape else float("inf")
        checks.append(
            check("deterministic", difference <= DETERMINISM_TOLERANCE, f"two runs differ by {difference:.3g}")
        )
    return checks


def probe(submission: Submission, task: Task, model: nn.Module | Path, limits: Limits | None = None) -> None:
    """Raise :class:`SubmissionError` naming every failed probe check (``bench score`` runs them first)."""
    failed = [f"{c.name} ({c.detail})" for c in check_task(submission, task, model, limits) if not c.ok]
    if failed:
        raise SubmissionError(f"submission {submission.folder} failed its checks on {task.id}: " + "; ".join(failed))
