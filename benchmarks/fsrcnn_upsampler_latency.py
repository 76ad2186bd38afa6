"""Measured latency of FSRCNN's three upsamplers, as ratios to the paper's 9x9 transposed conv.

FSRCNN x2 (Y, d=56, s=12, m=4) is built with each ``upsample`` form of ``bench.models.sr_arch``:
``deconv`` (the paper's layer, a TFLite TRANSPOSE_CONV: the reference of the ratios),
``deconv-subpixel`` (the same layer and weights run as a 5x5 conv + PixelShuffle) and
``pixelshuffle`` (a 3x3 conv + PixelShuffle, a smaller layer). The subpixel model is given the
deconv model's weights, and its output is checked against it before timing. Models are timed on one device at
sr-set5-x2's latency input, interleaved for ``--repeats`` rounds, keeping each one's best
quick-protocol median; params and MACs come from ``count_complexity``.

    python benchmarks/fsrcnn_upsampler_latency.py [--device cpu-tflite] [--repeats 3] [--scale 2]
"""

from __future__ import annotations

import argparse

import torch

from bench.models import build_model
from bench.runtime.complexity import count_complexity
from bench.runtime.devices import get_device
from bench.runtime.latency import measure_on
from bench.runtime.protocol import QUICK
from bench.tasks import get_task

FORMS = ("deconv", "deconv-subpixel", "pixelshuffle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu-tflite")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=int, default=2, choices=(2, 3, 4))
    args = parser.parse_args()
    device = get_device(args.device)
    task = get_task(f"sr-set5-x{args.scale}")
    shape = tuple(task.latency.input_shape)
    torch.manual_seed(0)
    models = {form: build_model("fsrcnn", {"upsample": form}, {"scale": args.scale}).eval() for form in FORMS}
    models["deconv-subpixel"].load_state_dict(models["deconv"].state_dict())
    probe = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        gap = (models["deconv"](probe) - models["deconv-subpixel"](probe)).abs().max().item()
    print(f"deconv vs deconv-subpixel, same weights: max |difference| {gap:.2e}")
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for form, model in models.items():
            measured, _ = measure_on(device, model, shape, QUICK)
            best[form] = min(best.get(form, float("inf")), measured.median_ms)
    print(f"{'upsample':18s} {'params':>8s} {'G MACs':>8s} {'ms':>9s} {'ratio':>7s}   ({device.id}, {shape})")
    for form, model in models.items():
        counted = count_complexity(model, shape)
        print(
            f"{form:18s} {counted.params or 0:>8,} {(counted.macs or 0) / 1e9:>8.2f} {best[form]:>9.1f} "
            f"{best[form] / best['deconv']:>7.3f}"
        )


if __name__ == "__main__":
    main()
