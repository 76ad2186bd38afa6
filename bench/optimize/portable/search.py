"""The portable U-Net search: sample architectures, train each briefly, time each on every device, rank them.

The search space (:class:`UNetSpace`) is the ``unet-portable`` family; restricted to the ops the
probe found portable (:meth:`UNetSpace.restricted`), every choice whose ops are not portable on all
devices is dropped. Each candidate is trained for the same number of steps on the training side
(held-out photos score it) and measured on every device. Its cross-device score is its worst-case
latency (the slowest device) and the geometric mean over devices.

Selection (:func:`select`): the *unconstrained best* is the candidate with the highest held-out
PSNR over everything evaluated; the *portable result* is, among candidates built from portable ops
only and within ``tolerance_db`` of that PSNR, the one with the lowest worst-case latency.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bench.errors import PortableSearchError
from bench.models.portable_arch import ACTS, DOWNS, SKIPS, UPS, unet_portable
from bench.optimize.finetune import TrainingSide
from bench.optimize.portable.probe import ALWAYS, CHOICE_OPS
from bench.pareto import pareto_front
from bench.runtime.devices import Device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK


@dataclass(frozen=True)
class UNetSpace:
    levels: tuple[int, ...] = (2, 3)
    widths: tuple[int, ...] = (8, 12, 16)
    blocks: tuple[int, ...] = (1, 2)
    downs: tuple[str, ...] = DOWNS
    ups: tuple[str, ...] = UPS
    skips: tuple[str, ...] = SKIPS
    acts: tuple[str, ...] = tuple(ACTS)

    def sample(self, rng: random.Random) -> dict[str, Any]:
        return {
            "levels": rng.choice(self.levels), "width": rng.choice(self.widths), "blocks": rng.choice(self.blocks),
            "down": rng.choice(self.downs), "up": rng.choice(self.ups), "skip": rng.choice(self.skips),
            "act": rng.choice(self.acts),
        }  # fmt: skip

    def restricted(self, portable: set[str]) -> UNetSpace:
        """The space without the choices whose ops are not all in ``portable``."""
        missing = set(ALWAYS) - portable
        if missing:
            raise PortableSearchError(f"no U-Net is portable on these devices: {', '.join(sorted(missing))} are not")

        def keep(kind: str, options: tuple[str, ...]) -> tuple[str, ...]:
            kept = tuple(o for o in options if set(CHOICE_OPS[(kind, o)]) <= portable)
            if not kept:
                raise PortableSearchError(f"no {kind} option of {options} is portable on these devices")
            return kept

        return replace(self, downs=keep("down", self.downs), ups=keep("up", self.ups),
                       skips=keep("skip", self.skips), acts=keep("act", self.acts))  # fmt: skip


def ops_of(args: dict[str, Any]) -> set[str]:
    """The probe ops a ``unet-portable`` configuration uses."""
    ops = set(ALWAYS)
    for kind in ("down", "up", "skip", "act"):
        ops |= set(CHOICE_OPS[(kind, args[kind])])
    return ops


def describe(args: dict[str, Any]) -> str:
    return (f"L{args['levels']} w{args['width']} b{args['blocks']} {args['down']}/{args['up']} "
            f"{args['skip']} {args['act']}")  # fmt: skip


@dataclass
class Evaluated:
    group: str  # "unconstrained" or "portable": the space it was sampled from
    args: dict[str, Any]
    description: str
    portable: bool  # built from portable ops only
    psnr: float  # held-out (training side)
    latency_ms: dict[str, float]  # per device; inf where it failed
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def worst_ms(self) -> float:
        return max(self.latency_ms.values())

    @property
    def geomean_ms(self) -> float:
        values = list(self.latency_ms.values())
        return math.exp(sum(math.log(v) for v in values) / len(values)) if all(map(math.isfinite, values)) else math.inf

    def row(self) -> dict[str, Any]:
        return {"group": self.group, "args": self.args, "description": self.description, "portable": self.portable,
                "psnr": self.psnr, "latency_ms": self.latency_ms, "worst_ms": self.worst_ms,
                "geomean_ms": self.geomean_ms, "failures": self.failures}  # fmt: skip


def measure_devices(
    model: Any, devices: Sequence[Device], shape: tuple[int, ...]
) -> tuple[dict[str, float], dict[str, str]]:
    """Median latency (ms, quick protocol) of ``model`` on each device; a failure gives inf and its reason."""
    latency, failures = {}, {}
    for device in devices:
        try:
            result, _ = measure_on(device, model.cpu().eval(), shape, QUICK)
            latency[device.id] = round(result.median_ms, 3)
        except Exception as exc:  # a model that does not convert or run there is the finding
            latency[device.id], failures[device.id] = math.inf, f"{type(exc).__name__}: {str(exc)[:200]}"
    return latency, failures


def evaluate(args: dict[str, Any], group: str, portable: set[str], side: TrainingSide, devices: Sequence[Device],
             shape: tuple[int, ...], steps: int, lr: float, seed: int) -> tuple[Evaluated, Any]:  # fmt: skip
    """Train ``args`` for ``steps`` from a fixed seed, score it on the held-out photos, time it on every device."""
    import torch

    torch.manual_seed(seed)
    model = unet_portable(**args)
    side.next_sample = 0  # every candidate sees the same patches
    side.finetune(model, steps, lr)
    psnr = side.score(model)
    latency, failures = measure_devices(model, devices, shape)
    return Evaluated(group, args, describe(args), ops_of(args) <= portable, psnr, latency, failures), model


def sample_distinct(space: UNetSpace, count: int, rng: random.Random, seen: set[str]) -> list[dict[str, Any]]:
    """``count`` configurations of ``space`` not in ``seen`` (fewer if the space runs out)."""
    out: list[dict[str, Any]] = []
    for _ in range(200 * max(count, 1)):
        if len(out) == count:
            break
        args = space.sample(rng)
        key = describe(args)
        if key not in seen:
            seen.add(key)
            out.append(args)
    return out


def select(rows: Sequence[Evaluated], tolerance_db: float) -> tuple[Evaluated, Evaluated]:
    """(unconstrained best, portable result): see the module doc."""
    if not rows:
        raise PortableSearchError("nothing was evaluated")
    best = max(rows, key=lambda r: r.psnr)
    portable = [r for r in rows if r.portable and math.isfinite(r.worst_ms)]
    if not portable:
        raise PortableSearchError("no evaluated candidate is portable on every device")
    close = [r for r in portable if r.psnr >= best.psnr - tolerance_db]
    if close:
        return best, min(close, key=lambda r: (r.worst_ms, -r.psnr))
    return best, max(portable, key=lambda r: r.psnr)


def fronts(rows: Sequence[Evaluated], devices: Sequence[str]) -> dict[str, list[str]]:
    """Per device (and ``worst-case``), the descriptions on the PSNR-latency Pareto front, fastest first."""
    out: dict[str, list[str]] = {}
    for name, key in [*((d, lambda r, d=d: r.latency_ms[d]) for d in devices), ("worst-case", lambda r: r.worst_ms)]:
        usable = [r for r in rows if math.isfinite(key(r))]
        front = pareto_front([(key(r), r.psnr) for r in usable])
        out[name] = [usable[i].description for i in sorted(front, key=lambda i: key(usable[i]))]
    return out


ProgressFn = Callable[[str, int, int], None]
