"""A scoring plan: everything a run needs, resolved once, before anything is loaded or stored.

:func:`make_plan` checks that the submission declares the task and that the task's data is
there, picks the quality device (by default the submission format's own runtime) and the latency
devices (by default the quality device), and fixes the run key: the identity under which the
store recognises a finished twin or resumes an interrupted run. Every way of scoring (``bench
score``, ``demo``, ``score-many``, ``challenge``, the optimisations) builds one and hands it to
:func:`bench.recording.record_run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.pipeline import data_folder
from bench.limits import Limits
from bench.results import SubmissionInfo, run_key
from bench.runtime.protocol import LatencySettings
from bench.submission import Submission, SubmissionError
from bench.tasks import Task


@dataclass(frozen=True)
class Plan:
    """One scoring run, resolved: what runs where, on which data, under which key.

    ``latency_shape`` is the input timed on each device (a challenge track's own fixed shape, else
    the task's); ``samples`` is how many of the first images keep sample crops in the store.
    """

    submission: Submission
    task: Task
    quality_device: str
    devices: tuple[str, ...]
    latency: LatencySettings
    data_root: Path | None
    key: str
    latency_shape: tuple[int, ...]
    calibration: Path | None = None
    lpips_weights: Path | None = None
    cache_root: Path | None = None
    limits: Limits = field(default_factory=Limits)
    samples: int = 3

    @property
    def info(self) -> SubmissionInfo:
        return result_info(self.submission)


def check_declared(submission: Submission, task: Task) -> None:
    if not submission.manifest.declares(task.id):
        raise SubmissionError(
            f"submission {submission.folder} does not declare task {task.id!r} (its tasks: "
            f"{', '.join(submission.manifest.tasks)}); add it to 'tasks' in submission.yaml if it is meant for it"
        )


def result_info(submission: Submission) -> SubmissionInfo:
    """The submission facts a result (and the store) records."""
    manifest = submission.manifest
    return SubmissionInfo(
        name=manifest.name,
        team=manifest.team,
        sha256=submission.sha256,
        format=manifest.format,
        architecture=manifest.architecture.name if manifest.architecture else None,
        tags=list(manifest.tags),
        precision=manifest.precision,
        reproduces=manifest.reproduces,
        derived_from=manifest.derived_from,
        description=manifest.description,
        model_card=submission.model_card(),
    )


def resolve_devices(
    submission: Submission, devices: Sequence[str] | None, quality_device: str | None
) -> tuple[str, list[str]]:
    """(quality device, latency devices): by default the submission format's native device for both."""
    quality = quality_device or submission.default_device
    return quality, list(devices or [quality])


def make_plan(
    submission: Submission,
    task: Task,
    devices: Sequence[str] | None = None,
    quality_device: str | None = None,
    latency: LatencySettings | None = None,
    data_root: Path | None = None,
    calibration: Path | None = None,
    latency_shape: Sequence[int] | None = None,
    lpips_weights: Path | None = None,
    cache_root: Path | None = None,
    limits: Limits | None = None,
    samples: int = 3,
) -> Plan:
    """Resolve a run (see the module docstring); ``data_root`` None reads the embedded copy. The key is what
    makes two runs the same (:func:`bench.results.run_key`). Raises
    :class:`SubmissionError` for an undeclared task and :class:`~bench.data.sources.DataNotFound` for
    missing data, before anything runs."""
    check_declared(submission, task)
    data_folder(task, data_root)
    settings = latency or LatencySettings()
    quality, latency_devices = resolve_devices(submission, devices, quality_device)
    timed = tuple(latency_shape or task.latency.input_shape)
    identity: dict[str, object] = dict(settings.model_dump())
    if timed != tuple(task.latency.input_shape):  # a challenge track's own timing input makes another run
        identity["latency_shape"] = list(timed)
    key = run_key(submission.sha256, task.id, task.version, quality, latency_devices, identity,
                  str(calibration) if calibration else None)  # fmt: skip
    return Plan(
        submission=submission,
        task=task,
        quality_device=quality,
        devices=tuple(latency_devices),
        latency=settings,
        data_root=data_root,
        key=key,
        latency_shape=timed,
        calibration=calibration,
        lpips_weights=lpips_weights,
        cache_root=cache_root,
        limits=limits or Limits(),
        samples=samples,
    )
