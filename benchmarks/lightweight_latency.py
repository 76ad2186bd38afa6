"""Measured latency of every lightweight rewrite against its baseline (Lahiri et al.'s LIST / GSAT modules).

For each rewrite of ``bench optimize lightweight`` (``bench.optimize.lightweight.REWRITES``), the
baseline and its lightweight variant are built with their default arguments and timed on one
device at the named task's latency input, interleaved (baseline, variant, baseline, ...) for
``--repeats`` rounds, keeping each model's best quick-protocol median (the least disturbed by
other load). Latency does not depend on the weight values on these backends (no sparse kernels),
so untrained weights time the same as trained ones. The variant's latency is printed as a ratio
to its baseline, measured in the same process; params and MACs come from ``count_complexity``.

    python benchmarks/lightweight_latency.py [--device cpu-tflite] [--repeats 3] [--only dncnn fsrcnn]
"""

from __future__ import annotations

import argparse

import torch

from bench.models import build_model
from bench.optimize.lightweight import REWRITES
from bench.runtime.complexity import count_complexity
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK
from bench.tasks import get_task

TASK_OF = {  # the task each baseline's reference is trained and timed for
    "dncnn": "denoise-cbsd68-s25",
    "fsrcnn": "sr-set5-x2",
    "edsr-baseline": "sr-set5-x2",
    "unet-mobile": "deblur-demo-motion",
    "inpaint-dilated": "inpaint-demo",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu-tflite")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="baseline architectures to time (default: every rewrite)")
    args = parser.parse_args()
    device = get_device(args.device)
    torch.manual_seed(0)
    print(f"{'baseline -> variant':36s} {'task':20s} {'params':>19s} {'G MACs':>15s} {'ms':>17s} {'ratio':>6s}")
    for baseline in args.only or list(TASK_OF):
        rewrite = REWRITES[baseline]
        task = get_task(TASK_OF[baseline])
        shape = tuple(task.latency.input_shape)
        models = {name: build_model(name, {}, {"scale": task.scale}).eval() for name in (baseline, rewrite.variant)}
        counted = {name: count_complexity(model, shape) for name, model in models.items()}
        params = {name: c.params or 0 for name, c in counted.items()}
        macs = {name: (c.macs or 0) / 1e9 for name, c in counted.items()}
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, model in models.items():
                measured, _ = measure_on(device, model, shape, QUICK)
                best[name] = min(best.get(name, float("inf")), measured.median_ms)
        a, b = baseline, rewrite.variant
        print(f"{a + ' -> ' + b:36s} {task.id:20s} {params[a]:>9,} {params[b]:>9,} "
              f"{macs[a]:7.2f} {macs[b]:7.2f} {best[a]:8.1f} {best[b]:8.1f} "
              f"{best[b] / best[a]:6.2f}", flush=True)  # fmt: skip
    print(f"device {device.id}; input = each task's latency shape; ratio = variant ms / baseline ms")


if __name__ == "__main__":
    main()
