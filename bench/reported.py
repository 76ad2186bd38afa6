"""Reported results: what well-known models' papers publish, beside what bench measures.

Data files in ``reported/`` (beside ``tasks/``), one per family, each a list of models with the paper,
the table the numbers come from, and per scale the parameters, the MACs for the paper's output size
(``macs_output``, H x W) and the PSNR / SSIM on each bench task. They are validated on load: every task
must be registered, and every PSNR must lie in its task's sane range (:func:`sane_range`). Reported
entries are never stored as results and never mixed with measured ones: the board shows them with
their own markers, and a submission that declares ``reproduces: <model id>`` gets measured minus
reported printed by ``bench score`` and shown on its page.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from bench.definitions import Strict, validated
from bench.errors import TaskError
from bench.paths import CHECKOUT

REPORTED_DIR = CHECKOUT / "reported"


class ReportedScore(Strict):
    task: str
    psnr: float
    ssim: float | None = Field(None, gt=0, le=1)


class ReportedScale(Strict):
    scale: int = Field(ge=1)
    params: int | None = Field(None, gt=0)
    macs: float | None = Field(None, gt=0, description="multiply-accumulates for an output of macs_output")
    results: list[ReportedScore] = Field(min_length=1)


class ReportedModel(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    year: int = Field(ge=1990, le=2100)
    paper: str = Field(min_length=10)
    source: str = Field(min_length=5, description="the table the numbers were read from")
    macs_output: tuple[int, int] | None = Field(None, description="H x W of the output the MACs are for")
    scales: list[ReportedScale] = Field(min_length=1)

    @model_validator(mode="after")
    def _macs_need_a_size(self) -> ReportedModel:
        if any(s.macs is not None for s in self.scales) and self.macs_output is None:
            raise ValueError(f"{self.id}: MACs need macs_output, the output size they were counted for")
        return self


class ReportedFile(Strict):
    schema_version: Literal[1] = 1
    family: str
    note: str
    models: list[ReportedModel]


class ReportedEntry(Strict):
    """One model's reported numbers on one task, flat (what the board and the CLI show)."""

    model: str
    name: str
    task: str
    psnr: float
    ssim: float | None
    params: int | None
    macs: float | None  # for the paper's output size
    macs_output: tuple[int, int] | None
    year: int
    paper: str
    source: str

    def macs_at(self, input_shape: tuple[int, ...], scale: int) -> float | None:
        """The MACs scaled to a task's NCHW latency input (convolutional work grows with the pixels)."""
        if self.macs is None or self.macs_output is None:
            return None
        out_h, out_w = input_shape[-2] * scale, input_shape[-1] * scale
        return self.macs * (out_h * out_w) / (self.macs_output[0] * self.macs_output[1])


def sane_range(task_id: str) -> tuple[float, float]:
    """PSNR (dB) a published result of the task can plausibly have: above its bicubic reference (a learned model
    beats bicubic), at most 12 dB better; for Gaussian denoising above the noisy input's 20 log10(255 / sigma),
    at most 15 dB better; a wide 18-45 dB band where the task states neither."""
    import math

    from bench.tasks import get_task

    task = get_task(task_id)
    sigma = task.degradation.params.get("sigma") if task.degradation is not None else None
    if task.kind == "denoise" and isinstance(sigma, int | float) and sigma > 0:
        floor = 20 * math.log10(255 / float(sigma))
        return floor, floor + 15.0
    floors = [r.psnr for r in task.references if r.method == "bicubic"]
    if not floors and task.id.endswith(("-x2", "-x3", "-x4")):  # a default Set14 task: its classic twin's bicubic
        try:
            floors = [r.psnr for r in get_task(task.id + "-classic").references if r.method == "bicubic"]
        except TaskError:
            floors = []
    return (floors[0], floors[0] + 12.0) if floors else (18.0, 45.0)


def load_file(path: Path) -> ReportedFile:
    """One data file, validated (schema, registered tasks, sane PSNR); raises :class:`TaskError`."""
    from bench.tasks import get_task

    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TaskError(f"reported results {path.name}: cannot be read ({exc})") from exc
    data = validated(raw, ReportedFile, TaskError, f"reported results {path.name}")
    for model in data.models:
        for scale in model.scales:
            for score in scale.results:
                try:
                    task = get_task(score.task)
                except TaskError as exc:
                    raise TaskError(f"reported results {path.name}: {model.id}: {exc}") from exc
                if task.kind == "sr" and task.scale != scale.scale:
                    raise TaskError(f"reported results {path.name}: {model.id}: {score.task} is x{task.scale}, "
                                    f"listed under x{scale.scale}")  # fmt: skip
                low, high = sane_range(score.task)
                if not low <= score.psnr <= high:
                    raise TaskError(f"reported results {path.name}: {model.id} on {score.task}: {score.psnr} dB is "
                                    f"outside the sane range {low:g}..{high:g} dB")  # fmt: skip
    return data


@cache
def reported_entries(folder: Path = REPORTED_DIR) -> tuple[ReportedEntry, ...]:
    """Every reported entry of every data file in ``folder`` (validated; ids unique across files)."""
    entries: list[ReportedEntry] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        for model in load_file(path).models:
            if model.id in seen:
                raise TaskError(f"reported model {model.id!r} is in both {seen[model.id]} and {path.name}")
            seen[model.id] = path.name
            for scale in model.scales:
                for score in scale.results:
                    entries.append(ReportedEntry(
                        model=model.id, name=model.name, task=score.task, psnr=score.psnr, ssim=score.ssim,
                        params=scale.params, macs=scale.macs, macs_output=model.macs_output, year=model.year,
                        paper=model.paper, source=model.source,
                    ))  # fmt: skip
    return tuple(entries)


def reported_for(task_id: str) -> list[ReportedEntry]:
    """The reported entries of one task, best PSNR first."""
    return sorted((e for e in reported_entries() if e.task == task_id), key=lambda e: -e.psnr)


def reported_models() -> list[str]:
    return sorted({e.model for e in reported_entries()})


def reported_entry(model: str, task_id: str) -> ReportedEntry | None:
    """``model``'s reported numbers on ``task_id`` (None when its paper has none for that task)."""
    return next((e for e in reported_entries() if e.model == model and e.task == task_id), None)


def difference_note(model: str, task_id: str, psnr: float, ssim: float | None) -> str:
    """One line: the reported model's published numbers on ``task_id`` and measured minus reported."""
    entry = reported_entry(model, task_id)
    if entry is None:
        return f"reproduces {model}: its paper reports nothing on {task_id}"
    with_ssim = entry.ssim is not None and ssim is not None
    reported = f"{entry.psnr:.2f}" + (f" / {entry.ssim:.4f}" if with_ssim else "")
    measured = f"{psnr:.3f}" + (f" / {ssim:.4f}" if with_ssim else "")
    delta = f"{psnr - entry.psnr:+.3f} dB" + (f", SSIM {ssim - entry.ssim:+.4f}" if with_ssim else "")  # type: ignore[operator]
    return (
        f"reproduces {entry.name} ({entry.source}): reported {reported}, measured {measured}: "
        f"measured - reported = {delta}"
    )
