"""LPIPS (Zhang et al. 2018, net 'alex', version 0.1) on plain torch.

Reimplements the computation of the ``lpips`` package without importing it
(it needs torchvision).  For images x0, x1 (uint8 RGB, mapped to [-1, 1] by
``x / 127.5 - 1``)::

    s(x)       = (x - shift) / scale      shift = [-.030, -.088, -.188],
                                          scale = [.458, .448, .450]
    f_l(x)     = l-th tapped ReLU output of AlexNet.features on s(x), l = 0..4
    n(f)       = f / (sqrt(sum_c f^2) + 1e-10)      (unit norm over channels)
    LPIPS      = sum_l mean_{h,w} conv1x1_{w_l}((n(f_l(x0)) - n(f_l(x1)))^2)

with w_l >= 0 the learned linear weights shipped in ``lpips/weights/v0.1/alex.pth``.
0 means identical; lower is better.  The AlexNet backbone is torchvision's
``alexnet-owt-7be5be79.pth``; it is never downloaded here.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

ALEXNET_FILENAME = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILENAME}"
ALEXNET_ENV = "BENCH_LPIPS_ALEXNET"
CHANNELS = (64, 192, 384, 256, 256)
# Index ranges of alexnet.features tapped by LPIPS (each ends on a ReLU).
SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))
MIN_SIZE = 31  # smallest H/W that survives conv1 + the two 3x3/2 max-pools
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class LPIPSUnavailable(RuntimeError):
    """A weight file LPIPS needs is missing or unreadable (message says which)."""


def _hub_alexnet_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILENAME


def find_alexnet_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate torchvision's AlexNet weights (``alexnet-owt-7be5be79.pth``).

    Order: ``path`` argument, else env var ``BENCH_LPIPS_ALEXNET``, else the torch
    hub cache ``torch.hub.get_dir()/checkpoints/`` (honours ``TORCH_HOME``).  An
    explicit path (argument or env var) is authoritative: if it does not exist no
    fallback is tried.  A directory is searched for the standard file name.
    Raises LPIPSUnavailable naming the place(s) looked at.
    """
    if path is not None:
        source, cand = "the alexnet_path argument", Path(path).expanduser()
    elif os.environ.get(ALEXNET_ENV):
        source, cand = f"${ALEXNET_ENV}", Path(os.environ[ALEXNET_ENV]).expanduser()
    else:
        source, cand = "the torch hub cache (torch.hub.get_dir(), TORCH_HOME)", _hub_alexnet_path()
    if cand.is_dir():
        cand = cand / ALEXNET_FILENAME
    if cand.is_file():
        return cand
    raise LPIPSUnavailable(
        f"LPIPS unavailable: AlexNet backbone weights {ALEXNET_FILENAME} not found at "
        f"{cand} (from {source}). Provide the file ({ALEXNET_URL}) by passing "
        f"alexnet_path=..., setting {ALEXNET_ENV}=/path/to/{ALEXNET_FILENAME}, or "
        f"copying it to {_hub_alexnet_path()}."
    )


def find_linear_weights() -> Path:
    """Locate the LPIPS v0.1 'alex' linear weights shipped in the ``lpips`` package.

    Uses ``importlib.util.find_spec`` only; the package is never imported.
    Raises LPIPSUnavailable when the package or its weight file is missing.
    """
    hint = "Install it with `pip install --no-deps lpips` (only its weight files are used)."
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise LPIPSUnavailable(
            f"LPIPS unavailable: the 'lpips' package (source of weights/v0.1/alex.pth) is not installed. {hint}"
        )
    cand = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "alex.pth"
    if not cand.is_file():
        raise LPIPSUnavailable(f"LPIPS unavailable: linear weights not found at {cand}. {hint}")
    return cand


def _load_state(path: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, full-model pickle, ...
        raise LPIPSUnavailable(f"LPIPS unavailable: cannot read {what} {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise LPIPSUnavailable(f"LPIPS unavailable: {what} {path} is not a state_dict")
    return state


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features[:12]`` (final max-pool dropped) in plain torch."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


class LPIPSNet(nn.Module):
    """The LPIPS network on tensors: ``forward(in0, in1)`` with N x 3 x H x W in [-1, 1]."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(_SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(_SCALE)[None, :, None, None])
        self.features = alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.requires_grad_(False)
        self.eval()

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five tapped ReLU outputs for already-scaled input ``x``."""
        out = []
        for lo, hi in SLICES:
            for i in range(lo, hi):
                x = self.features[i](x)
            out.append(x)
        return out

    def forward(self, in0: torch.Tensor, in1: torch.Tensor) -> torch.Tensor:
        """Per-image LPIPS distance, shape (N,)."""
        f0 = self.taps((in0 - self.shift) / self.scale)
        f1 = self.taps((in1 - self.shift) / self.scale)
        val = torch.zeros(in0.shape[0], 1, 1, 1, dtype=in0.dtype)
        for lin, a, b in zip(self.lins, f0, f1, strict=True):
            a = a / (torch.sqrt(torch.sum(a**2, dim=1, keepdim=True)) + 1e-10)
            b = b / (torch.sqrt(torch.sum(b**2, dim=1, keepdim=True)) + 1e-10)
            val = val + lin((a - b) ** 2).mean([2, 3], keepdim=True)
        return val.flatten()


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 (or HxW / HxWx1, repeated to RGB) -> 1x3xHxW float32 in [-1, 1]."""
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise ValueError(f"LPIPS expects uint8 images, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"LPIPS expects HxWx3 RGB or HxW gray, got shape {arr.shape}")
    if min(arr.shape[:2]) < MIN_SIZE:
        raise ValueError(f"LPIPS (alex) needs images of at least {MIN_SIZE}x{MIN_SIZE}, got {arr.shape[:2]}")
    # Same arithmetic as lpips.im2tensor: float64 x / 127.5 - 1, then float32.
    x = arr.astype(np.float64) / 127.5 - 1.0
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None])).float()


class LPIPS:
    """Callable metric: ``LPIPS.load()(output, target) -> float`` (lower is better)."""

    def __init__(self, net: LPIPSNet, alexnet_path: Path | None = None, linear_path: Path | None = None) -> None:
        self.net = net.eval()
        self.alexnet_path = alexnet_path
        self.linear_path = linear_path

    @classmethod
    def load(
        cls,
        alexnet_path: str | os.PathLike[str] | None = None,
        linear_path: str | os.PathLike[str] | None = None,
    ) -> LPIPS:
        """Build from the AlexNet backbone (see find_alexnet_weights) and linear
        weights (``linear_path`` or find_linear_weights()).  Raises LPIPSUnavailable."""
        a_path = find_alexnet_weights(alexnet_path)
        l_path = Path(linear_path) if linear_path is not None else find_linear_weights()
        if not l_path.is_file():
            raise LPIPSUnavailable(f"LPIPS unavailable: linear weights not found at {l_path}")
        backbone = _load_state(a_path, "AlexNet weights")
        linear = _load_state(l_path, "LPIPS linear weights")
        net = LPIPSNet()
        feats = {k[len("features.") :]: v for k, v in backbone.items() if k.startswith("features.")}
        lins = {f"{i}.weight": linear.get(f"lin{i}.model.1.weight") for i in range(len(CHANNELS))}
        try:
            net.features.load_state_dict(feats, strict=True)
            net.lins.load_state_dict({k: v for k, v in lins.items() if v is not None}, strict=True)
        except RuntimeError as exc:
            raise LPIPSUnavailable(f"LPIPS unavailable: unexpected weights in {a_path} / {l_path}: {exc}") from exc
        return cls(net, a_path, l_path)

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        """LPIPS distance between two uint8 images of equal shape (symmetric)."""
        if np.shape(output) != np.shape(target):
            raise ValueError(f"shape mismatch: {np.shape(output)} vs {np.shape(target)}")
        self.net.eval()
        with torch.no_grad():
            return float(self.net(to_tensor(output), to_tensor(target))[0].item())


def try_load_lpips(
    alexnet_path: str | os.PathLike[str] | None = None,
    linear_path: str | os.PathLike[str] | None = None,
) -> tuple[LPIPS | None, str | None]:
    """``(metric, None)`` if loadable, else ``(None, reason)``; record ``lpips: null``."""
    try:
        return LPIPS.load(alexnet_path, linear_path), None
    except LPIPSUnavailable as exc:
        return None, str(exc)
