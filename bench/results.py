"""The result record: what ``bench score --json`` writes and what the store keeps (design.md contract)."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Complexity(Frozen):
    """Multiply-accumulates and parameters of one forward pass at ``input_shape`` (NCHW), and the bytes
    every conv reads and writes (input, output and weights, fp32); ``None`` where the model format does
    not let us count exactly (see :func:`bench.runtime.complexity.file_complexity`)."""

    macs: int | None
    params: int | None
    conv_traffic_bytes: int | None
    input_shape: tuple[int, ...]


class SubmissionInfo(Frozen):
    name: str
    team: str
    sha256: str
    format: str
    architecture: str | None
    tags: list[str]
    precision: str
    reproduces: str | None = None  # the reported model (bench/reported.py) it declares to reimplement
    derived_from: str | None = None  # the name of the submission it was made from (pruned, quantised, ...)
    description: str = ""  # the manifest's one-paragraph description: the submitter's text, shown as text
    model_card: str | None = None  # MODEL_CARD.md of the folder (at most MODEL_CARD_LIMIT characters), as text


class ImageResult(Frozen):
    """One image's scores; ``extra`` holds the further metrics the task names (``metric.extra``)."""

    id: str
    psnr: float
    ssim: float
    lpips: float | None = None
    extra: dict[str, float] = Field(default_factory=dict)

    def value(self, name: str) -> float | None:
        """The score of metric ``name``: a contract field (psnr, ssim, lpips) or a further metric."""
        return _value(self, name)


class Metrics(Frozen):
    psnr: float
    ssim: float
    lpips: float | None
    lpips_note: str | None = None
    per_image: list[ImageResult]
    extra: dict[str, float] = Field(default_factory=dict, description="mean of each further metric over the images")

    def value(self, name: str) -> float | None:
        """The mean score of metric ``name``: a contract field (psnr, ssim, lpips) or a further metric."""
        return _value(self, name)


def _value(scores: ImageResult | Metrics, name: str) -> float | None:
    contract: float | None = getattr(scores, name) if name in ("psnr", "ssim", "lpips") else scores.extra.get(name)
    return contract


class LatencyResult(Frozen):
    """One measured latency; ``kind`` is always 'measured' here (predicted numbers live elsewhere).

    ``stable``: whether the block medians agreed (null: not assessed); ``p90_ms`` is null where a
    device tool does not report it (TFLite ``benchmark_model``).
    """

    device: str
    backend: str
    precision: str
    threads: int
    input_shape: tuple[int, ...]
    median_ms: float
    p90_ms: float | None
    mean_ms: float
    min_ms: float
    max_ms: float
    runs: int
    cv: float
    stable: bool | None = None
    spread: float | None = None  # relative spread of the last blocks' medians (None: one block)
    blocks: int = 1
    cores: list[int] | None = None
    kind: str = "measured"


class Provenance(Frozen):
    bench_version: str
    git_commit: str | None
    python: str
    torch: str
    backends: dict[str, dict[str, object]]
    host: str
    platform: str
    started_at: str
    duration_s: float
    data_folder: str
    latency_settings: dict[str, bool | int | float]
    run_key: str | None = None
    sandbox: dict[str, object] | None = None  # the limits the model ran under (bench.sandbox), and their cost


class Result(Frozen):
    task: str
    task_version: int
    submission: SubmissionInfo
    metrics: Metrics
    latency: list[LatencyResult]
    complexity: Complexity
    provenance: Provenance


def run_key(
    submission_sha256: str,
    task: str,
    task_version: int,
    quality_device: str,
    devices: list[str],
    settings: dict[str, object],
    calibration: str | None = None,
) -> str:
    """What makes two scoring runs the same run: sha256 over the submission hash, the task and its
    version, the quality device, the latency devices (as a set) and the measurement settings."""
    identity = {
        "submission": submission_sha256, "task": task, "version": task_version, "quality": quality_device,
        "devices": sorted(devices), "settings": settings, "calibration": calibration,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def key_of(result: Result) -> str:
    """The run key of a stored result (its own, or one rebuilt from its contents)."""
    if result.provenance.run_key:
        return result.provenance.run_key
    quality = next((k.removeprefix("quality:") for k in result.provenance.backends if k.startswith("quality:")), "")
    devices = [lat.device for lat in result.latency]
    return run_key(result.submission.sha256, result.task, result.task_version, quality, devices,
                   dict(result.provenance.latency_settings))  # fmt: skip
