"""Eager PyTorch on the CPU: ``threads`` intra-op threads, optional channels-last memory format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.runtime.backends.base import Backend, LoadedModel, RunSettings, register_backend


def random_input(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """The fixed timing input: uniform [0, 1) of ``shape``, the same on every run."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


class TorchModel(LoadedModel):
    backend = "torch"

    def __init__(self, module: nn.Module, settings: RunSettings, device: str = "cpu") -> None:
        self.settings = settings
        self.device = torch.device(device)
        self.channels_last = bool(settings.options.get("channels_last", False))
        self.module = module.eval().to(self.device)
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.module(self._prepare(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model returned {type(out).__name__}, expected a tensor")
        return out.float().cpu().contiguous().numpy()

    def timer(self, shape: tuple[int, ...]) -> Callable[[], object]:
        x = self._prepare(random_input(shape))

        def once() -> object:
            with torch.inference_mode():
                return self.module(x)

        return once

    def describe(self) -> dict[str, Any]:
        return {"torch": torch.__version__, "threads": torch.get_num_threads(), "channels_last": self.channels_last}


@register_backend("torch")
class TorchBackend(Backend):
    @classmethod
    def available(cls) -> tuple[bool, str]:
        return True, f"torch {torch.__version__}"

    def load_module(self, module: nn.Module) -> LoadedModel:
        torch.set_num_threads(self.settings.threads)
        return TorchModel(module, self.settings)
