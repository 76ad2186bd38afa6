"""Architectures registered for the tests only, in a module of their own: the conftest names it in
``BENCH_MODEL_MODULES``, so the sandboxed scorer's child processes register them too."""

from __future__ import annotations

import time

import torch
from torch import nn

from bench.models import register_model


class TinySR(nn.Module):
    """One 3x3 conv to 3 s^2 channels and a pixel shuffle."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Faulty(nn.Module):
    """x * w (one parameter), with one fault or none: 0..255 output, NaN, half the height, two rows short,
    random noise."""

    def __init__(self, fault: str = "none") -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.fault = fault

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x[:, :3] * self.w
        return {
            "none": y,
            "scale": y * 255,
            "nan": y * float("nan"),
            "shape": y[..., ::2, :],
            "small": y[..., :-2, :],
            "random": y + torch.rand_like(y) * 0.1,
        }[self.fault]


class FailsLate(nn.Module):
    """Passes the 48 x 48 probe, scores the first full-size image, then raises (as a runtime error would)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 48:
            self.calls += 1
            if self.calls > 1:
                raise TypeError("the second image broke the model")
        return x


class Hangs(nn.Module):
    """Passes the probe, then never returns on a full-size image (as an ONNX Loop with a huge trip count)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while x.shape[-1] > 48:
            pass
        return x


class Slow(nn.Module):
    """The identity, taking ``seconds`` per call on anything larger than the 48 x 48 probe (a very slow model)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 48:
            time.sleep(self.seconds)
        return x.clone()


class Hungry(nn.Module):
    """Passes the probe, then allocates ``gib`` GiB on a full-size image."""

    def __init__(self, gib: float = 8.0) -> None:
        super().__init__()
        self.gib = gib

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 48:
            hog = torch.ones(int(self.gib * 2**30 / 4))
            return x + hog[0] * 0
        return x


class Wide(nn.Module):
    """Few parameters, huge activations: 3 -> ``channels`` -> 3 with 1x1 convolutions."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, channels, 1), nn.Conv2d(channels, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Misbehaves(nn.Module):
    """Passes the 48 x 48 probe, then misbehaves on a full-size image: returns a tuple, aborts the process,
    exits it, writes ``mib`` MiB to a file in its working folder, or overwrites the file ``target``."""

    def __init__(self, how: str = "tuple", mib: int = 64, target: str = "") -> None:
        super().__init__()
        self.how, self.mib, self.target = how, mib, target

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] <= 48 or x.device.type == "meta":
            return x
        import os

        if self.how == "abort":
            os.abort()
        if self.how == "exit":
            os._exit(0)
        if self.how == "tampers":
            with open(self.target, "w") as handle:
                handle.write("name: changed by the model\n")
        if self.how == "writes":
            with open("spill.bin", "wb") as spill:
                for _ in range(self.mib):
                    spill.write(b"\0" * 2**20)
        return (x, x)


register_model("test-tiny-sr", task_args=("scale",))(TinySR)
register_model("test-misbehaves")(lambda how="tuple", mib=64, target="": Misbehaves(how, mib, target))
register_model("test-wide")(lambda channels=8: Wide(channels))
register_model("test-scaled")(lambda mode="ok": Faulty({"ok": "none"}.get(mode, mode)))
register_model("test-faulty")(lambda fault="none": Faulty(fault))
register_model("test-fails-late")(lambda: FailsLate())
register_model("test-hangs")(lambda: Hangs())
register_model("test-slow")(lambda seconds=1.0: Slow(float(seconds)))
register_model("test-hungry")(lambda gib=8.0: Hungry(gib))


class PhonesHome(nn.Module):
    """Tries to reach a TCP port on this machine; returns all ones if it got through, else its input."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.port = port

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return torch.ones_like(x)
        except OSError:
            return x


register_model("test-phones-home")(lambda port=0: PhonesHome(port))
