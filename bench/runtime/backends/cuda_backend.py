"""PyTorch on an NVIDIA GPU, timed with CUDA events, the input already on the GPU.

Two protocols (``RunSettings.options["protocol"]``):

* ``default``: the project's protocol (:mod:`bench.runtime.protocol`: warm-up, blocks until the
  median is stable), each run timed by a pair of CUDA events and a synchronise.
* ``ntire-esr``: the NTIRE efficient-SR evaluation script as published: ``cudnn.benchmark =
  False``, no warm-up, for each of ``images`` (100) inputs ``start.record(); model(x);
  end.record(); torch.cuda.synchronize()``, the mean of ``elapsed_time`` over the images; the
  2024/2025 editions repeat this 5 times (``repeats``) and average the means. FP32, batch 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.runtime.backends.base import Backend, LoadedModel, register_backend
from bench.runtime.backends.torch_backend import TorchModel, random_input
from bench.runtime.protocol import LatencySettings, LatencyStats, measure_timed, summarize


def cuda_status() -> tuple[bool, str]:
    """(a CUDA device is usable, its name and versions or why not)."""
    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return False, f"no CUDA device visible to torch {torch.__version__} ({built})"
    index = torch.cuda.current_device()
    return True, f"{torch.cuda.get_device_name(index)}, torch {torch.__version__}, CUDA {torch.version.cuda}"


class CudaModel(TorchModel):
    backend = "cuda"

    def event_timer(self, shape: tuple[int, ...]) -> Callable[[], float]:
        """One forward pass on a fixed GPU input, timed by CUDA events (ms)."""
        x = self._prepare(random_input(shape))
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def timed() -> float:
            with torch.inference_mode():
                start.record()
                self.module(x)
                end.record()
            torch.cuda.synchronize()
            return float(start.elapsed_time(end))

        return timed

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        timed = self.event_timer(shape)
        return lambda: timed()

    def measure(self, shape: tuple[int, ...], settings: LatencySettings) -> LatencyStats:
        if self.settings.options.get("protocol", "default") == "ntire-esr":
            return self.measure_ntire_esr(shape)
        return measure_timed(self.event_timer(shape), settings, threads=1)

    def measure_ntire_esr(self, shape: tuple[int, ...]) -> LatencyStats:
        images = int(self.settings.options.get("images", 100))
        repeats = int(self.settings.options.get("repeats", 5))
        torch.backends.cudnn.benchmark = False
        timed = self.event_timer(shape)
        means, samples = [], []
        for _ in range(repeats):
            runs = [timed() for _ in range(images)]
            samples.extend(runs)
            means.append(float(np.mean(runs)))
        stats = summarize(samples, blocks=repeats, block_medians_ms=[float(np.median(samples))])
        # the NTIRE score uses the mean of the per-repeat means; it is reported as mean_ms
        return stats.model_copy(update={"mean_ms": float(np.mean(means))})

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "device": torch.cuda.get_device_name(self.device),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "protocol": self.settings.options.get("protocol", "default"),
        }


@register_backend("cuda")
class CudaBackend(Backend):
    @classmethod
    def available(cls) -> tuple[bool, str]:
        return cuda_status()

    def load_module(self, module: nn.Module) -> LoadedModel:
        return CudaModel(module, self.settings, device="cuda")
