"""Does rounding kept channels to a multiple of g = 8 make a pruned model faster at the same MACs?

EDSR-baseline x2 (16 resblocks, 64 features) with every resblock's inner width cut, as
``bench optimize prune`` cuts it, through torch-pruning. Two models of *identical* MACs:

* **g = 1**: every inner width 44 (= 4 mod 8, what a g = 1 search can leave);
* **g = 8**: half the blocks at 40 and half at 48 (the mean is 44, so the MACs are equal).

and, for context, uniform widths 40, 43, 47 and 48. Each is converted and timed on the device
(default ``cpu-tflite``, XNNPACK) at 1x3x180x320; the variants are timed in turn, ``--repeats``
times, and the best median of each is kept (the least disturbed by other load). Latency is
printed as a ratio to the g = 1 model, measured in the same process.

    python benchmarks/prune_multiple.py [--device cpu-tflite] [--shape 1x3x180x320] [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from bench.models import build_model
from bench.optimize.prune import ChannelCut, apply_cuts
from bench.runtime.complexity import count_complexity
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK


def edsr_with_inner_widths(widths: list[int]) -> nn.Module:
    """EDSR-baseline x2 whose resblock i's inner conv keeps ``widths[i]`` of its 64 output channels."""
    torch.manual_seed(0)
    model = build_model("edsr-baseline", {"scale": 2}, {}).eval()
    cuts = [ChannelCut(f"body.{i}.body.0", 64, w, tuple(range(w, 64))) for i, w in enumerate(widths) if w < 64]
    apply_cuts(model, torch.rand(1, 3, 16, 16), cuts)
    return model


def variants() -> dict[str, list[int]]:
    return {
        "g=1: all 44": [44] * 16,
        "g=8: 40 / 48 mixed": [40, 48] * 8,
        "all 40": [40] * 16,
        "all 43": [43] * 16,
        "all 47": [47] * 16,
        "all 48": [48] * 16,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu-tflite")
    parser.add_argument("--shape", default="1x3x180x320")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split("x"))
    device = get_device(args.device)
    models = {name: edsr_with_inner_widths(widths) for name, widths in variants().items()}
    macs = {name: int(count_complexity(m, shape).macs or 0) for name, m in models.items()}
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, model in models.items():
            result, _ = measure_on(device, model, shape, QUICK)
            best[name] = min(best.get(name, float("inf")), float(result.median_ms))
    reference = best["g=1: all 44"]
    print(f"device {args.device}, input {args.shape}, best median of {args.repeats} (quick protocol)")
    print(f"{'variant':<22} {'G MACs':>8} {'ms':>9} {'vs g=1':>8}")
    for name in models:
        print(f"{name:<22} {macs[name] / 1e9:>8.3f} {best[name]:>9.1f} {best[name] / reference:>8.3f}")


if __name__ == "__main__":
    main()
