"""Is a TFLite latency repeatable, and does the harness add anything to it?

1. A small SR network (conv + pixel shuffle, x2, 1x3x360x640 input) is converted to TFLite once.
2. ``bench latency MODEL.tflite --device cpu-tflite`` is run ``--runs`` times as separate
   processes (the full protocol each time); their medians must lie within 5 % of each other.
3. In one process, the harness (``measure_on``) and a bare ``ai_edge_litert`` interpreter loop
   (the reference: ``invoke()`` timed with ``perf_counter`` N times, median) measure the same
   file; the harness median must be within 2 % of the bare loop's.

    python benchmarks/latency_repeatability.py [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.runtime.convert import to_tflite
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import LatencySettings

SHAPE = (1, 3, 360, 640)


def espcn_like() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 12, 3, padding=1), nn.PixelShuffle(2),
    ).eval()  # fmt: skip


def bare_loop(path: Path, threads: int, runs: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    x = np.random.default_rng(0).random(detail["shape"], dtype=np.float32)
    interpreter.set_tensor(detail["index"], x)
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        interpreter.invoke()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "espcn_like.tflite"
        report = to_tflite(espcn_like(), SHAPE, path)
        print(f"model: {path.name}, conversion max abs error {report.max_abs_error:.2e}")
        shape = ",".join(map(str, SHAPE))
        medians = []
        for i in range(args.runs):
            out = Path(temp) / f"run{i}.json"
            command = [sys.executable, "-m", "bench.cli", "latency", str(path), "--device", "cpu-tflite",
                       "--threads", str(args.threads), "--shape", shape, "--json", str(out)]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            latency = json.loads(out.read_text())[0]["latency"]
            medians.append(latency["median_ms"])
            print(f"bench latency run {i + 1}: median {latency['median_ms']:.2f} ms  cv {latency['cv']:.3f}  "
                  f"runs {latency['runs']}  stable {latency['stable']}")  # fmt: skip
        spread = (max(medians) - min(medians)) / float(np.median(medians))
        print(f"spread of the {args.runs} medians: {spread:.1%} (target <= 5%)")
        device = get_device("cpu-tflite", threads=args.threads)
        harness, _ = measure_on(device, path, SHAPE, LatencySettings())
        bare = bare_loop(path, args.threads, harness.runs)
        print(f"harness median {harness.median_ms:.2f} ms vs bare interpreter loop {bare:.2f} ms: "
              f"ratio {harness.median_ms / bare:.3f} (target within 2%)")  # fmt: skip


if __name__ == "__main__":
    main()
