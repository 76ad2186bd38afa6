"""Searched models against the hand-designed references: quality on the task, latency on the device.

Each submission is scored on the task through ``bench.scoring.evaluate`` (quality only: the
task's own metric protocol), then every submission's latency is measured on the device in turn,
``--repeats`` times, keeping each one's best median (the least disturbed by other load). Latency is
printed as a ratio to the first submission, the named reference, measured in the same process.

    python benchmarks/search_vs_references.py --task sr-set5-x2 --device cpu-tflite \\
        submissions/reference/espcn-x2 submissions/reference/fsrcnn-x2 submissions/reference/nas-sr-x2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.plan import make_plan
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK
from bench.scoring import evaluate
from bench.submission import load_submission
from bench.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="+", help="submission folders; the first is the reference of the ratios")
    parser.add_argument("--task", required=True)
    parser.add_argument("--device", default="cpu-tflite")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    task, device = get_task(args.task), get_device(args.device)
    shape = tuple(task.latency.input_shape)
    subs = [load_submission(Path(folder)) for folder in args.submissions]
    quality = {}
    for sub in subs:
        result = evaluate(make_plan(sub, task, devices=[], latency=QUICK))
        quality[sub.manifest.name] = (result.metrics.psnr, result.metrics.ssim, result.complexity.macs)
    models = {sub.manifest.name: sub.build({"scale": task.scale}).eval() for sub in subs}
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, model in models.items():
            measured, _ = measure_on(device, model, shape, QUICK)
            best[name] = min(best.get(name, float("inf")), measured.median_ms)
    reference = subs[0].manifest.name
    print(f"{task.id} on {device.id} at {'x'.join(map(str, shape))}; latency ratio to {reference}")
    print(f"{'submission':32s} {'PSNR':>8s} {'SSIM':>7s} {'G MACs':>7s} {'ms':>8s} {'ratio':>6s}")
    for name, (psnr, ssim, macs) in quality.items():
        macs_text = f"{macs / 1e9:7.2f}" if macs else "      -"
        print(f"{name:32s} {psnr:8.3f} {ssim:7.4f} {macs_text} {best[name]:8.1f} {best[name] / best[reference]:6.2f}")


if __name__ == "__main__":
    main()
