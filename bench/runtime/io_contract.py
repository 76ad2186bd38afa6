"""A submission's declared input/output contract applied around a loaded model.

Scoring and timing always hand a model NCHW float32 RGB in [0, 1]. A submission may declare otherwise
(``io`` in ``submission.yaml``, :class:`bench.submission.IOContract`):

* ``colour: Y``: the model takes and returns one channel, the MATLAB BT.601 luma of the input,
  ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255`` (R, G, B in [0, 1]; Y in 16/255..235/255), the
  setting of SRCNN, FSRCNN, VDSR and most efficient-SR papers before 2018. Its one-channel output is
  compared on Y (:func:`bench.metrics.protocol.prepare`), never wrapped into RGB;
* ``colour: grey``: one channel, the mean of R, G and B (grey tasks);
* ``range: [0, 255]``: inputs are multiplied by 255 on the way in, outputs divided on the way out.

The axis order (``layout``) is the backends' business (``options["layout"]``), since only they know the
order their runtime hands the file. Timing runs the model at its own channel count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.runtime.backends.base import LoadedModel
from bench.runtime.protocol import LatencySettings, LatencyStats

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float32) / 255.0
Y_OFFSET = 16.0 / 255.0


def luma(x: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of NCHW RGB in [0, 1], as N x 1 x H x W in [16/255, 235/255] (float32)."""
    return (np.tensordot(_Y_WEIGHTS, x, axes=([0], [1]))[:, None] + np.float32(Y_OFFSET)).astype(np.float32)


def model_shape(shape: tuple[int, ...], colour: str) -> tuple[int, ...]:
    """The NCHW shape the model itself takes for a task's RGB ``shape``: one channel for Y and grey."""
    n, _, h, w = shape
    return (n, 3 if colour == "RGB" else 1, h, w)


class ContractModel(LoadedModel):
    """``inner`` (the model file as its backend loaded it) behind the contract's colour and range mapping."""

    def __init__(self, inner: LoadedModel, colour: str, scale: float) -> None:
        self.inner, self.colour, self.scale = inner, colour, scale
        self.backend, self.settings = inner.backend, inner.settings

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.colour == "Y":
            x = luma(x)
        elif self.colour == "grey":
            x = x.mean(axis=1, keepdims=True, dtype=np.float32)
        y = self.inner.run(np.ascontiguousarray(x * np.float32(self.scale)) if self.scale != 1 else x)
        return y / np.float32(self.scale) if self.scale != 1 else y

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        return self.inner.timer(model_shape(shape, self.colour))

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        return self.inner.measure(model_shape(shape, self.colour), settings)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe() | {"io": {"colour": self.colour, "range": [0.0, self.scale]}}

    def __getattr__(self, name: str) -> Any:  # the backend's own extras (conversion reports, runners)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
