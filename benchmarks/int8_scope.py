"""Where does a Y-channel SR model lose its int8 quality: the colour path or the network?

For a ``LumaSR`` submission (FSRCNN, ESPCN: RGB -> MATLAB YCbCr, the net on Y, bicubic Cb/Cr,
back to RGB), three TFLite models of the same fp32 weights are compared on the task's own data
and metric protocol, and timed interleaved at the task's latency shape:

* ``fp32``: the converted model (the reference of the latency ratios);
* ``int8``: every op static int8, as ``bench optimize quantize`` makes it (ai-edge-quantizer
  ``static_wi8_ai8``);
* ``int8-net``: only the ops inside the Y network quantised (tensor names matching ``--scope``,
  litert-torch's module path); the colour conversions, chroma path and concatenation stay float,
  with one QUANTIZE and one DEQUANTIZE at the network's boundary.

The activation ranges are calibrated as ``bench optimize quantize`` does: on held-out training
photos (the baseline's recipe and ``$BENCH_TRAIN_DATA``), never on test images.

    BENCH_TRAIN_DATA=../shared/datasets/CSun_Hays80 python benchmarks/int8_scope.py \\
        submissions/reference/fsrcnn-x2 submissions/reference/espcn-x2 --task sr-set5-x2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench.optimize.finetune import TrainingSide
from bench.optimize.lightweight import baseline_recipe
from bench.optimize.quantize import QuantizeSettings, calibrate_module, calibration_inputs
from bench.runtime.convert import tflite_runner, to_tflite
from bench.runtime.quantize import Ranges, quantize_int8
from bench.submission import load_submission
from bench.tasks import get_task
from bench.training.recipe import ValidationSpec
from bench.training.validate import load_validation


def quantized(fp32: bytes, ranges: Ranges, scope: str | None) -> bytes:
    """Static int8 of every op exactly as ``bench optimize quantize`` makes it (``scope`` None), or of the ops
    whose output tensor names match ``scope`` only (float everywhere else)."""
    if scope is None:
        return quantize_int8(fp32, ranges=ranges)
    from ai_edge_quantizer import qtyping, quantizer, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    manager = recipe_manager.RecipeManager()
    everything = qtyping.TFLOperationName.ALL_SUPPORTED
    # later matching entries win: float everywhere, then int8 inside the scope
    manager.add_quantization_config(".*", everything, algorithm_key=AlgorithmName.NO_QUANTIZE)
    manager.add_static_config(scope, everything, activation_num_bits=8, weight_num_bits=8)
    q = quantizer.Quantizer(bytearray(fp32), manager.get_quantization_recipe())
    return bytes(q.quantize(ranges, enable_progress_report=False).quantized_model)


def runner(model: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """NCHW float in and out (quantised I/O handled at the boundary), XNNPACK, one thread."""
    return tflite_runner(model, threads=1, xnnpack=True)


def convert(model: torch.nn.Module, shape: tuple[int, ...], folder: Path) -> bytes:
    return Path(to_tflite(model, shape, folder / f"{'x'.join(map(str, shape))}.tflite", "fp32").path).read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="+")
    parser.add_argument("--task", default="sr-set5-x2")
    parser.add_argument("--scope", default="_net/", help="regex on tensor names: the ops to quantise in int8-net")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved timing rounds (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = get_task(args.task)
    samples = load_validation(ValidationSpec(task=task.id, images=1000, every=1), None, None).samples
    settings = QuantizeSettings(precision="int8")
    from bench.metrics.protocol import score_image

    for folder in args.submissions:
        submission = load_submission(folder)
        model = submission.build({"scale": task.scale}).eval()
        side = TrainingSide.from_recipe(baseline_recipe(submission, None), None, settings.calibration_images,
                                        settings.calibration_crop)  # fmt: skip
        ranges = calibrate_module(model, calibration_inputs(side))
        psnr: dict[str, list[float]] = {"fp32": [], "int8": [], "int8-net": []}
        with tempfile.TemporaryDirectory() as tmp:
            for sample in samples:
                x = np.ascontiguousarray(sample.input.transpose(2, 0, 1)[None], np.float32)
                fp32 = convert(model, x.shape, Path(tmp))
                variants = {"fp32": fp32, "int8": quantized(fp32, ranges, None),
                            "int8-net": quantized(fp32, ranges, args.scope)}  # fmt: skip
                for name, tflite in variants.items():
                    output = runner(tflite)(x)[0].transpose(1, 2, 0)
                    psnr[name].append(score_image(output, sample.target, task.metric).psnr)
            fp32 = convert(model, tuple(task.latency.input_shape), Path(tmp))
            runners = {"fp32": runner(fp32), "int8": runner(quantized(fp32, ranges, None)),
                       "int8-net": runner(quantized(fp32, ranges, args.scope))}  # fmt: skip
        x = np.random.default_rng(0).random(task.latency.input_shape, dtype=np.float32)
        times: dict[str, list[float]] = {name: [] for name in runners}
        for warm in runners.values():
            warm(x)
        for _ in range(args.repeats):
            for name, run in runners.items():
                start = time.perf_counter()
                run(x)
                times[name].append((time.perf_counter() - start) * 1e3)
        ms = {name: float(np.median(t)) for name, t in times.items()}
        shape = "x".join(map(str, task.latency.input_shape))
        print(f"{submission.manifest.name} on {task.id} ({len(samples)} images), latency at {shape}, "
              "1 thread, XNNPACK (I/O layout transposes included)")  # fmt: skip
        for name in runners:
            mean = float(np.mean(psnr[name]))
            print(f"  {name:9s} PSNR {mean:7.3f} ({mean - np.mean(psnr['fp32']):+.3f})  "
                  f"{ms[name]:7.1f} ms  ratio to fp32 {ms[name] / ms['fp32']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
