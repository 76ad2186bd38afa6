"""Backends: one interface to run a loaded model on a device and describe how it ran.

A backend takes NCHW float32 numpy input and returns NCHW float32 numpy output. Registered by
name; devices (:mod:`bench.runtime.devices`) are named profiles over a backend plus settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn


class Backend(ABC):
    """A model loaded on one backend."""

    name: str
    precision: str = "fp32"

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """Run one NCHW float32 batch, return NCHW float32."""

    @abstractmethod
    def prepare_timing(self, shape: tuple[int, ...]) -> Callable[[], object]:
        """A zero-argument call that runs the model once on a fixed random input of ``shape``."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Versions and settings that go into a result's provenance."""


class TorchBackend(Backend):
    """Eager PyTorch on the CPU, ``threads`` intra-op threads, optional channels-last memory format."""

    name = "torch"

    def __init__(self, model: nn.Module, threads: int, channels_last: bool = False) -> None:
        self.model = model.eval()
        self.threads = threads
        self.channels_last = channels_last
        torch.set_num_threads(threads)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor

    def run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.model(self._tensor(x))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model returned {type(out).__name__}, expected a tensor")
        return out.float().contiguous().numpy()

    def prepare_timing(self, shape: tuple[int, ...]) -> Callable[[], object]:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(shape, generator=generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)

        def once() -> object:
            with torch.inference_mode():
                return self.model(x)

        return once

    def describe(self) -> dict[str, Any]:
        return {"torch": torch.__version__, "threads": self.threads, "channels_last": self.channels_last}
