"""Metric objects: each carries its name, label, unit, direction, range and display precision (as a
torchmetrics metric carries ``higher_is_better`` and its bounds), and where its computation lives.

The result record, the store, the export and the board read these facts from here, never from
their own constants. A metric is computed either on the task's prepared pair (``on="protocol"``:
the task's colour space and crop, float64, as PSNR and SSIM) or on the whole uint8 RGB output and
target (``on="rgb"``, as LPIPS).

PSNR, SSIM and LPIPS are the result contract's own fields (``metrics.psnr``, ...). Any other
registered metric that a task names in ``metric.extra`` is computed by its ``compute`` function
(``"module:function"``, imported when a run needs it, taking the two images and returning a
float) and recorded under ``metrics.extra`` and each image's ``extra``; the store keeps it in the
result, the export and the board show it as a column. Adding one is a file with the function and
one :func:`register_metric` line below.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.registry import Registry

ImageMetric = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """One image-quality metric (see the module docstring); ``low``/``high`` bound its values."""

    name: str
    label: str
    unit: str
    higher_is_better: bool
    low: float
    high: float
    digits: int
    summary: str
    on: Literal["protocol", "rgb"] = "protocol"
    compute: str | None = None

    @property
    def title(self) -> str:
        """Column title: ``PSNR (dB)``, ``SSIM``, ``L1 (%)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def axis_title(self) -> str:
        """Chart axis title, saying the direction where lower is better: ``LPIPS (lower is better)``."""
        return self.title if self.higher_is_better else f"{self.title} (lower is better)"

    @property
    def builtin(self) -> bool:
        """One of the result contract's own fields (psnr, ssim, lpips)."""
        return self.name in BUILTIN

    def text(self, value: float | None) -> str:
        """``value`` at the metric's precision (no unit: the title carries it); ``n/a`` for none."""
        if value is None or math.isnan(value):
            return "n/a"
        return f"{value:.{self.digits}f}"

    def in_range(self, value: float) -> bool:
        return self.low <= value <= self.high

    def function(self) -> ImageMetric:
        """The computation (``compute`` names it as ``module:function``), imported on first use."""
        if self.compute is None:
            raise ValueError(f"metric {self.name!r} has no compute function")
        return _imported(self.compute)


@functools.cache
def _imported(path: str) -> ImageMetric:
    module, _, attribute = path.partition(":")
    fn: ImageMetric = getattr(importlib.import_module(module), attribute)
    return fn


METRICS = Registry[Metric]("metric")
BUILTIN = ("psnr", "ssim", "lpips")


def register_metric(metric: Metric) -> Metric:
    METRICS.add(metric.name, metric)
    return metric


register_metric(Metric("psnr", "PSNR", "dB", True, 0.0, math.inf, 3, "peak signal-to-noise ratio",
                       compute="bench.metrics.psnr:psnr"))  # fmt: skip
register_metric(Metric("ssim", "SSIM", "", True, -1.0, 1.0, 4, "structural similarity (Wang et al., 11x11 Gaussian)",
                       compute="bench.metrics.ssim:ssim"))  # fmt: skip
register_metric(Metric("lpips", "LPIPS", "", False, 0.0, math.inf, 4, "learned perceptual distance (AlexNet, v0.1)",
                       on="rgb"))  # fmt: skip
register_metric(Metric("l1", "L1", "%", False, 0.0, 100.0, 2, "mean absolute error in % of the 8-bit range",
                       compute="bench.metrics.l1:l1_percent"))  # fmt: skip


def extra_metric(name: str) -> str:
    """``name`` if it is a registered metric other than the contract's own three (for task validation)."""
    if name in BUILTIN:
        raise ValueError(f"{name} is always part of the protocol; metric.extra names the others")
    METRICS[name]
    return name
