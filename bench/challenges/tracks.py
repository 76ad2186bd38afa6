"""Track definitions (``tasks/tracks/*.yaml``): quality task, timing protocol, rules, score, published rows."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from bench.challenges.formulas import FORMULAS
from bench.definitions import Strict, load_folder
from bench.errors import TrackError
from bench.registry import UnknownName
from bench.tasks import tasks_dir


def _formula(name: str) -> str:
    try:
        return FORMULAS.check(name)
    except UnknownName as exc:
        raise ValueError(str(exc)) from None


class Timing(Strict):
    input_shape: tuple[int, int, int, int] = Field(description="N, C, H, W of the timing model's input")
    statistic: Literal["mean", "median"] = Field(description="which latency statistic the score uses")
    device: str = Field(description="the track's own device, in words")
    bench_device: str | None = Field(None, description="bench device id of that device, when there is one")
    fallback_device: str = Field(description="what a rerun uses when the track's device is not attached")
    protocol: str = Field(description="how the organisers timed entries")


class Rules(Strict):
    formats: list[str]
    timing_model: bool = Field(False, description="a separate fixed-shape timing model is required")
    io_dtype: Literal["float32", "uint8"] | None = None


class ScoreSpec(Strict):
    formula: Annotated[str, AfterValidator(_formula)]
    constants: dict[str, float]
    psnr_gate: float | None = None
    baseline_constants: list[str] = Field(default_factory=list, description="constants measured on --baseline")


class PublishedRow(Strict):
    entry: str
    psnr: float
    runtime_ms: float
    flops: float | None = None
    params: float | None = None
    published_score: float | None = None


class Track(Strict):
    id: str
    title: str
    quality_task: str
    description: str = ""
    timing: Timing
    rules: Rules
    score: ScoreSpec
    published: list[PublishedRow] = Field(default_factory=list)
    published_source: str = ""


@cache
def _load(folder: Path) -> dict[str, Track]:
    return load_folder(folder, Track, TrackError, "track")


def all_tracks() -> dict[str, Track]:
    """Every track in ``<tasks dir>/tracks`` (the tasks dir honours ``$BENCH_TASKS_DIR``)."""
    return dict(_load(tasks_dir() / "tracks"))


def get_track(track_id: str) -> Track:
    tracks = all_tracks()
    if track_id not in tracks:
        raise TrackError(f"unknown track {track_id!r}; known tracks: {', '.join(sorted(tracks))}")
    return tracks[track_id]
