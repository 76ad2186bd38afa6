"""Per-layer latency tables: predicted vs measured latency of random models of one family.

Family: plain SR networks (a stack of 2-5 convolutions with ReLU, widths 8-48, kernels 1/3/5,
then a conv to 3 s^2 channels and a pixel shuffle, x2), on ``cpu-tflite`` with one thread at
1x3x180x320 input. The table is filled with every unit configuration of the 10 models, then
each model's predicted latency is compared with its measured end-to-end latency (the
reference). Target: within 15 % for at least 8 of the 10.

    python benchmarks/latency_table.py [--models 10] [--device cpu-tflite] [--table FILE]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch
from torch import nn

from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.layer_table import LatencyTable, decompose, fill, predict
from bench.runtime.protocol import LatencySettings

SHAPE = (1, 3, 180, 320)
SETTINGS = LatencySettings(warmup_runs=3, warmup_min_s=0.2, min_runs=15, min_s=0.3, stable_blocks=2, max_blocks=4)


def random_model(rng: random.Random) -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for _ in range(rng.randint(2, 5)):
        width, kernel = rng.choice([8, 16, 24, 32, 48]), rng.choice([1, 3, 3, 5])
        layers += [nn.Conv2d(channels, width, kernel, padding=kernel // 2), nn.ReLU()]
        channels = width
    layers += [nn.Conv2d(channels, 12, 3, padding=1), nn.PixelShuffle(2)]
    return nn.Sequential(*layers).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--device", default="cpu-tflite")
    parser.add_argument("--table", type=Path, help="reuse / save the table here")
    args = parser.parse_args()
    device = get_device(args.device, threads=1)
    torch.manual_seed(0)
    rng = random.Random(0)
    models = [random_model(rng) for _ in range(args.models)]
    table = LatencyTable.load(args.table) if args.table and args.table.exists() else LatencyTable(device=device.id)
    decomposed = [decompose(m, SHAPE) for m in models]
    fill(table, [u for units, _ in decomposed for u in units], device, SETTINGS,
         progress=lambda key, n, total: print(f"  table {n}/{total}: {key}"))  # fmt: skip
    if args.table:
        table.save(args.table)
    within = 0
    print(f"{'model':>5} {'units':>5} {'predicted ms':>12} {'measured ms':>11} {'error':>7}")
    for i, (model, (units, unmodelled)) in enumerate(zip(models, decomposed, strict=True)):
        predicted = predict(table, units, unmodelled).total_ms
        measured, _ = measure_on(device, model, SHAPE, SETTINGS)
        error = (predicted - measured.median_ms) / measured.median_ms
        within += abs(error) <= 0.15
        print(f"{i:>5} {len(units):>5} {predicted:>12.2f} {measured.median_ms:>11.2f} {error:>+7.1%}")
    print(f"{within}/{len(models)} models predicted within 15% (target: at least 8/10)")


if __name__ == "__main__":
    main()
