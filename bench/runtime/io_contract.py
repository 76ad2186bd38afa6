"""A submission's declared input/output contract applied around a loaded model.

Scoring and timing always hand a model NCHW float32 RGB in [0, 1]. A submission may declare otherwise
(``io`` in ``submission.yaml``, :class:`bench.submission.IOContract`):

* ``colour: Y``: the model takes and returns one channel, the MATLAB BT.601 luma of the input,
  ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255`` (R, G, B in [0, 1]; Y in 16/255..235/255), the
  setting of SRCNN, FSRCNN, VDSR and most efficient-SR papers before 2018. Its output Y joins the input's
  Cb and Cr, upsampled by MATLAB bicubic to the output's size, and returns to RGB: exactly what the papers'
  test scripts and bench's own ``LumaSR`` wrapper do, so the task's protocol (uint8 RGB, then Y) scores it
  as it scores an RGB model, and a one-channel model scores what its RGB-wrapped twin scores;
* ``colour: grey``: one channel, the mean of R, G and B, in and out (repeated to R = G = B on the way out);
* ``range: [0, 255]``: inputs are multiplied by 255 on the way in, outputs divided on the way out.

The axis order (``layout``) is the backends' business (``options["layout"]``), since only they know the
order their runtime hands the file. Timing runs the model at its own channel count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.runtime.backends.base import LoadedModel
from bench.runtime.errors import ConversionError
from bench.runtime.protocol import LatencySettings, LatencyStats


def to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` of NCHW RGB in [0, 1] (the ``LumaSR`` wrapper's own map, ``bench.models.layers``):
    Y in 16/255..235/255, then Cb and Cr."""
    import torch

    from bench.models.layers import rgb_to_ycbcr

    with torch.inference_mode():
        return rgb_to_ycbcr()(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))).numpy()


def with_chroma(luma_out: np.ndarray, ycc_in: np.ndarray) -> np.ndarray:
    """RGB from a model's output Y and the input's Cb, Cr (``ycc_in[:, 1:]``) upsampled by MATLAB bicubic to the
    output's size (the inverse of MATLAB ``rgb2ycbcr``); the scale is the ratio of the sizes (1 for restoration)."""
    import torch

    from bench.models.interp_arch import MatlabBicubicUpsampler
    from bench.models.layers import ycbcr_to_rgb

    scale = luma_out.shape[-1] // ycc_in.shape[-1]
    if scale < 1 or luma_out.shape[-2] != ycc_in.shape[-2] * scale or luma_out.shape[-1] != ycc_in.shape[-1] * scale:
        raise ConversionError(
            f"a Y model's output {luma_out.shape} is not an integer scale of its input {ycc_in.shape}"
        )
    with torch.inference_mode():
        chroma = torch.from_numpy(np.ascontiguousarray(ycc_in[:, 1:]))
        if scale > 1:
            chroma = MatlabBicubicUpsampler(scale, channels=2)(chroma)
        return ycbcr_to_rgb()(torch.cat([torch.from_numpy(luma_out), chroma], dim=1)).numpy()


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
        rgb = np.asarray(x, dtype=np.float32)
        ycc = to_ycbcr(rgb) if self.colour == "Y" else None
        if ycc is not None:
            x = np.ascontiguousarray(ycc[:, :1])
        elif self.colour == "grey":
            x = rgb.mean(axis=1, keepdims=True, dtype=np.float32)
        else:
            x = rgb
        y = self.inner.run(np.ascontiguousarray(x * np.float32(self.scale)) if self.scale != 1 else x)
        y = y / np.float32(self.scale) if self.scale != 1 else y
        if self.colour == "RGB":
            return y
        if y.ndim != 4 or y.shape[1] != 1:
            raise ConversionError(f"a {self.colour} model must return one channel (N x 1 x H x W), not {y.shape}")
        if self.colour == "grey":
            return np.ascontiguousarray(np.repeat(y, 3, axis=1))
        assert ycc is not None
        return with_chroma(y, ycc)

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
