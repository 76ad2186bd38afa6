"""A task's metric protocol, as its YAML states it: colour space, crop, rounding, SSIM variant.

It lives beside the metrics (not in :mod:`bench.tasks`) so that the metric code reads its own
settings and the task registry sits above data and metrics, with nothing reaching back up.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from bench.definitions import Strict
from bench.metrics.registry import extra_metric

ExtraMetric = Annotated[str, AfterValidator(extra_metric)]


class MetricSpec(Strict):
    """How an output is scored. See ``docs/protocols.md`` for each choice's reference."""

    colour: Literal["y", "rgb"] = Field(description="y: MATLAB rgb2ycbcr luma; rgb: all three channels")
    y_rounding: Literal["none", "matlab"] = "none"
    crop_border: int = Field(ge=0, description="pixels dropped from every side before scoring")
    ssim: Literal["wang-gaussian"] = "wang-gaussian"
    output_rounding: Literal["clamp-round-uint8"] = "clamp-round-uint8"
    grey_targets: Literal["intensity", "rgb-y"] = Field(
        "intensity",
        description="one-channel targets: 'intensity' compares the mean of the output's RGB with the grey values "
        "(the classic MATLAB tables); 'rgb-y' reads the grey image as R = G = B and compares Y with Y "
        "(the learned-model tables: Y maps [0, 255] to [16, 235])",
    )
    psnr_identical_db: float = 100.0
    lpips: bool = False
    extra: list[ExtraMetric] = Field(
        default_factory=list, description="further registered metrics to record (bench.metrics.registry), e.g. l1"
    )
