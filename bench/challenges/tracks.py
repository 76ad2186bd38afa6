"""Track definitions (``tasks/tracks/*.yaml``): quality task, timing protocol, rules, score, published rows."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from bench.challenges.formulas import FORMULAS
from bench.paths import TASKS_DIR
from bench.registry import UnknownName


def _formula(name: str) -> str:
    try:
        return FORMULAS.check(name)
    except UnknownName as exc:
        raise ValueError(str(exc)) from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class TrackError(ValueError):
    """A track file is invalid or a track id is unknown."""


@cache
def _load(folder: Path) -> dict[str, Track]:
    tracks = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw: Any = yaml.safe_load(path.read_text())
            track = Track.model_validate(raw)
        except (yaml.YAMLError, ValidationError) as exc:
            raise TrackError(f"invalid track file {path}: {exc}") from exc
        if track.id != path.stem:
            raise TrackError(f"track file {path} declares id {track.id!r}; the id must equal the file name")
        tracks[track.id] = track
    return tracks


def all_tracks() -> dict[str, Track]:
    return dict(_load(TASKS_DIR / "tracks"))


def get_track(track_id: str) -> Track:
    tracks = all_tracks()
    if track_id not in tracks:
        raise TrackError(f"unknown track {track_id!r}; known tracks: {', '.join(sorted(tracks))}")
    return tracks[track_id]
