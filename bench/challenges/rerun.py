"""Rerun a challenge track: check each submission against the rules, score quality on the track's
task, time the timing model on the chosen device, compute the track score and rank.

Where the track's own device (a Pixel 4, a VS680 NPU, an NTIRE GPU) is not attached, the
``fallback_device`` is used and the ranking says so; scores from different devices are not
comparable with the official table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.challenges.ranking import Entry, Row, constants_for, format_rule, published_rows, rank_entries
from bench.challenges.tracks import Track
from bench.errors import USER_ERRORS, TrackError
from bench.limits import Limits
from bench.plan import make_plan
from bench.recording import record_run
from bench.results import Result
from bench.runtime.devices import get_device
from bench.runtime.protocol import LatencySettings
from bench.store import Store
from bench.submission import Submission, load_submission
from bench.tasks import get_task

_STOPS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError, RuntimeError)  # what rejects one entry


@dataclass
class Ranking:
    track: Track
    device: str
    device_note: str
    quality_task: str
    rows: list[Row] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)


def rule_violation(track: Track, submission: Submission) -> str | None:
    """The first track rule the submission breaks, in words, or None."""
    manifest = submission.manifest
    if violation := format_rule(track, manifest.format):
        return violation
    if track.rules.timing_model and manifest.files.timing_model is None:
        shape = "x".join(map(str, track.timing.input_shape))
        return f"rule: a separate fixed-shape timing model (input {shape}) is required as files.timing_model"
    if track.rules.io_dtype == "uint8":
        from bench.limits import Limits
        from bench.sandbox import run_job

        files = [str(p) for p in (submission.model({}), submission.timing_model()) if isinstance(p, Path)]
        found = run_job("io-dtypes", {"files": files}, Limits(), repr(manifest.name), files)  # a stranger's file
        for path, dtypes in zip(files, found, strict=True):
            if set(dtypes) != {"uint8"}:
                return f"rule: input and output must be uint8 ({Path(path).name} has {', '.join(sorted(dtypes))})"
    return None


def choose_device(track: Track, device: str | None) -> tuple[str, str]:
    """(device id, note for the table): the user's choice, the track's own device, or the fallback."""
    if device is not None:
        return device, f"timed on {device} (chosen), not on the track's {track.timing.device}"
    if track.timing.bench_device and get_device(track.timing.bench_device).available()[0]:
        return track.timing.bench_device, f"timed on {track.timing.bench_device}, the track's own protocol"
    return track.timing.fallback_device, (
        f"timed on {track.timing.fallback_device} instead of the track's {track.timing.device} (not attached here); "
        "scores are not comparable with the official table"
    )


def _measure(
    track: Track,
    folder: Path,
    task_id: str,
    device: str,
    data_root: Path | None,
    latency: LatencySettings | None,
    store: Store | None = None,
    limits: Limits | None = None,
) -> tuple[Entry, Result | None]:
    """The entry of one submission folder: scored through the one road (stored when ``store`` is
    given; a stored twin is reused), or rejected with the rule or the error that stopped it."""
    try:
        submission = load_submission(folder)
    except USER_ERRORS as exc:
        return Entry(str(folder), violation=str(exc)), None
    name, team, fmt = submission.manifest.name, submission.manifest.team, submission.manifest.format
    try:
        violation = rule_violation(track, submission)
        if violation:
            return Entry(name, team, fmt, violation=violation), None
        plan = make_plan(submission, get_task(task_id), [device], latency=latency, data_root=data_root,
                         latency_shape=track.timing.input_shape, limits=limits)  # fmt: skip
        result = record_run(plan, store).result
    except _STOPS as exc:
        return Entry(name, team, fmt, violation=str(exc)), None
    measured = result.latency[0]
    macs, params = result.complexity.macs, result.complexity.params
    return Entry(
        name, team, fmt, psnr=result.metrics.psnr, mean_ms=measured.mean_ms, median_ms=measured.median_ms,
        macs=float(macs) if macs is not None else None, params=float(params) if params is not None else None,
        timed_shape=tuple(measured.input_shape),
    ), result  # fmt: skip


def rerun(
    track: Track,
    folders: list[Path],
    device: str | None = None,
    data_root: Path | None = None,
    latency: LatencySettings | None = None,
    quality_task: str | None = None,
    baseline: Path | None = None,
    store: Store | None = None,
    limits: Limits | None = None,
) -> Ranking:
    """Score every submission on the track (see the module docstring) and rank them with
    :mod:`bench.challenges.ranking`; with ``store``, each scored run is also stored there (the board's
    challenge page ranks what the store holds, with the same module)."""
    device_id, note = choose_device(track, device)
    task_id = quality_task or track.quality_task
    ranking = Ranking(track, device_id, note, task_id)
    base: Entry | None = None
    if track.score.baseline_constants:
        if baseline is None:
            raise TrackError(f"track {track.id} scores against its baseline: give --baseline SUBMISSION_DIR")
        base, _ = _measure(track, baseline, task_id, device_id, data_root, latency, store, limits)
        if base.violation:
            raise TrackError(f"the baseline submission failed: {base.violation}")
    ranking.constants, _ = constants_for(track, base)
    entries = [_measure(track, f, task_id, device_id, data_root, latency, store, limits)[0] for f in folders]
    ranking.rows = rank_entries(track, entries, ranking.constants)
    return ranking


def published(track: Track) -> Ranking:
    """The track's published rows scored with its formula (to compare a rerun with the official table)."""
    ranking = Ranking(track, track.timing.device, f"published numbers ({track.published_source})", track.quality_task)
    ranking.constants = dict(track.score.constants)
    ranking.rows = published_rows(track)
    return ranking
