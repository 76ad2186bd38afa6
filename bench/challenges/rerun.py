"""Rerun a challenge track: check each submission against the rules, score quality on the track's
task, time the timing model on the chosen device, compute the track score and rank.

Where the track's own device (a Pixel 4, a VS680 NPU, an NTIRE GPU) is not attached, the
``fallback_device`` is used and the ranking says so; scores from different devices are not
comparable with the official table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.challenges.formulas import HIGHER_IS_BETTER, Entry, score
from bench.challenges.tracks import Track
from bench.recording import score_into
from bench.results import Result
from bench.runtime.devices import get_device
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.store import Store
from bench.submission import Submission, SubmissionError, load_submission
from bench.tasks import get_task


@dataclass
class Row:
    submission: str
    team: str = ""
    status: str = "ranked"  # ranked | gated | rejected
    reason: str = ""
    psnr: float | None = None
    runtime_ms: float | None = None
    flops: float | None = None
    params: float | None = None
    score: float | None = None
    rank: int | None = None


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
    if manifest.format not in track.rules.formats:
        return f"rule: the format must be {' or '.join(track.rules.formats)} (this submission is {manifest.format})"
    if track.rules.timing_model and manifest.files.timing_model is None:
        shape = "x".join(map(str, track.timing.input_shape))
        return f"rule: a separate fixed-shape timing model (input {shape}) is required as files.timing_model"
    if track.rules.io_dtype == "uint8":
        from ai_edge_litert.interpreter import Interpreter

        for path in (submission.model({}), submission.timing_model()):
            if isinstance(path, Path):
                interpreter = Interpreter(model_path=str(path))
                dtypes = {
                    d["dtype"].__name__ for d in interpreter.get_input_details() + interpreter.get_output_details()
                }
                if dtypes != {"uint8"}:
                    return f"rule: input and output must be uint8 ({path.name} has {', '.join(sorted(dtypes))})"
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
) -> tuple[Row, Result | None]:
    row = Row(submission=str(folder))
    try:
        submission = load_submission(folder)
        row.submission, row.team = submission.manifest.name, submission.manifest.team
        violation = rule_violation(track, submission)
        if violation:
            row.status, row.reason = "rejected", violation
            return row, None
        task, shape = get_task(task_id), track.timing.input_shape
        if store is None:
            result = evaluate(submission, task, devices=[device], quality_device=None, data_root=data_root,
                              latency=latency, latency_shape=shape)  # fmt: skip
        else:  # stored (with sample crops) for the board's challenge page; a stored twin is reused
            result, _ = score_into(store, submission, task, [device], latency or LatencySettings(),
                                   data_root=data_root, latency_shape=shape)  # fmt: skip
    except (SubmissionError, ValueError, RuntimeError) as exc:
        row.status, row.reason = "rejected", str(exc)
        return row, None
    measured = result.latency[0]
    row.psnr = result.metrics.psnr
    row.runtime_ms = measured.mean_ms if track.timing.statistic == "mean" else measured.median_ms
    row.flops = float(result.complexity.macs) if result.complexity.macs is not None else None  # multiply-adds
    row.params = float(result.complexity.params) if result.complexity.params is not None else None
    return row, result


def rank(track: Track, rows: list[Row]) -> None:
    """Apply the gate, then number the ranked rows best first (formula's direction)."""
    gate = track.score.psnr_gate
    for row in rows:
        if row.status == "ranked" and gate is not None and row.psnr is not None and row.psnr < gate:
            row.status, row.reason = "gated", f"PSNR {row.psnr:.2f} dB is below the gate of {gate:.2f} dB"
    ranked = [r for r in rows if r.status == "ranked" and r.score is not None]
    ranked.sort(key=lambda r: r.score or 0.0, reverse=HIGHER_IS_BETTER[track.score.formula])
    for position, row in enumerate(ranked, 1):
        row.rank = position
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0))


def rerun(
    track: Track,
    folders: list[Path],
    device: str | None = None,
    data_root: Path | None = None,
    latency: LatencySettings | None = None,
    quality_task: str | None = None,
    baseline: Path | None = None,
    store: Store | None = None,
) -> Ranking:
    """Score every submission on the track (see the module docstring); with ``store``, each scored
    run is also stored there (the board's challenge page ranks what the store holds)."""
    device_id, note = choose_device(track, device)
    task_id = quality_task or track.quality_task
    ranking = Ranking(track, device_id, note, task_id)
    constants = dict(track.score.constants)
    if track.score.baseline_constants:
        if baseline is None:
            raise ValueError(f"track {track.id} scores against its baseline: give --baseline SUBMISSION_DIR")
        base, _ = _measure(track, baseline, task_id, device_id, data_root, latency, store)
        if base.status == "rejected":
            raise ValueError(f"the baseline submission failed: {base.reason}")
        measured = {"runtime_ms": base.runtime_ms, "flops": base.flops, "params": base.params}
        constants.update({k: float(measured[k] or 0.0) for k in track.score.baseline_constants})
    ranking.constants = constants
    for folder in folders:
        row, _ = _measure(track, folder, task_id, device_id, data_root, latency, store)
        if row.status == "ranked":
            assert row.psnr is not None and row.runtime_ms is not None
            row.score = score(track.score.formula, Entry(row.psnr, row.runtime_ms, row.flops, row.params), constants)
        ranking.rows.append(row)
    rank(track, ranking.rows)
    return ranking


def published(track: Track) -> Ranking:
    """The track's published rows scored with its formula (to compare a rerun with the official table)."""
    ranking = Ranking(track, track.timing.device, f"published numbers ({track.published_source})", track.quality_task)
    for entry in track.published:
        row = Row(entry.entry, psnr=entry.psnr, runtime_ms=entry.runtime_ms, flops=entry.flops, params=entry.params)
        row.score = score(track.score.formula, Entry(entry.psnr, entry.runtime_ms, entry.flops, entry.params),
                          dict(track.score.constants))  # fmt: skip
        ranking.rows.append(row)
    rank(track, ranking.rows)
    return ranking
