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
from pathlib import Path

import numpy as np
import torch

from bench.optimize.finetune import TrainingSide
from bench.optimize.lightweight import baseline_recipe
from bench.optimize.quantize import QuantizeSettings, calibrate_module, calibration_inputs
from bench.runtime.convert import to_tflite
from bench.runtime.quantize import Ranges, from_tensor, to_tensor
from bench.submission import load_submission
from bench.tasks import get_task
from bench.training.recipe import ValidationSpec
from bench.training.validate import load_validation


def quantized(fp32: bytes, ranges: Ranges, scope: str | None) -> bytes:
    """Static int8 of every op (``scope`` None), or of the ops whose output names match ``scope`` only."""
    from ai_edge_quantizer import qtyping, quantizer, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    manager = recipe_manager.RecipeManager()
    everything = qtyping.TFLOperationName.ALL_SUPPORTED
    if scope is not None:  # later matching entries win: float everywhere, then int8 inside the scope
        manager.add_quantization_config(".*", everything, algorithm_key=AlgorithmName.NO_QUANTIZE)
    manager.add_static_config(scope or ".*", everything, activation_num_bits=8, weight_num_bits=8)
    q = quantizer.Quantizer(bytearray(fp32), manager.get_quantization_recipe())
    return bytes(q.quantize(ranges, enable_progress_report=False).quantized_model)


class Runner:
    """One TFLite model (XNNPACK, one thread) with float I/O at its boundary, quantised or not."""

    def __init__(self, model: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_content=model, num_threads=1)
        self.interp.allocate_tensors()
        self.input, self.output = self.interp.get_input_details()[0], self.interp.get_output_details()[0]

    def __call__(self, x_nhwc: np.ndarray) -> np.ndarray:
        self.interp.set_tensor(self.input["index"], to_tensor(x_nhwc, self.input))
        self.interp.invoke()
        return from_tensor(self.interp.get_tensor(self.output["index"]), self.output)


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
                x = np.ascontiguousarray(sample.input[None], np.float32)
                fp32 = convert(model, (1, x.shape[3], x.shape[1], x.shape[2]), Path(tmp))
                variants = {"fp32": fp32, "int8": quantized(fp32, ranges, None),
                            "int8-net": quantized(fp32, ranges, args.scope)}  # fmt: skip
                for name, tflite in variants.items():
                    output = Runner(tflite)(x)[0]
                    psnr[name].append(score_image(output, sample.target, task.metric).psnr)
            fp32 = convert(model, tuple(task.latency.input_shape), Path(tmp))
            runners = {"fp32": Runner(fp32), "int8": Runner(quantized(fp32, ranges, None)),
                       "int8-net": Runner(quantized(fp32, ranges, args.scope))}  # fmt: skip
        _, c, h, w = task.latency.input_shape
        x = np.random.default_rng(0).random((1, h, w, c), dtype=np.float32)
        times: dict[str, list[float]] = {name: [] for name in runners}
        for warm in runners.values():
            warm(x)
        for _ in range(args.repeats):
            for name, run in runners.items():
                start = time.perf_counter()
                run(x)
                times[name].append((time.perf_counter() - start) * 1e3)
        ms = {name: float(np.median(t)) for name, t in times.items()}
        print(f"{submission.manifest.name} on {task.id} ({len(samples)} images), latency at "
              f"{'x'.join(map(str, task.latency.input_shape))}, 1 thread, XNNPACK")  # fmt: skip
        for name in runners:
            mean = float(np.mean(psnr[name]))
            print(f"  {name:9s} PSNR {mean:7.3f} ({mean - np.mean(psnr['fp32']):+.3f})  "
                  f"{ms[name]:7.1f} ms  ratio to fp32 {ms[name] / ms['fp32']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
