"""Do torch, ONNX Runtime and TFLite give the same output for each baseline? (max abs error)

Each baseline runs on a real LR image (Set5 'bird' downscaled with the MATLAB resize, or an
embedded scene for the restoration baselines) through ``cpu-torch`` (the reference),
``cpu-onnxruntime`` and ``cpu-tflite``; the maximum absolute difference from torch is printed,
with the conversion bound (1e-4 for fp32, 1/40 of an 8-bit grey level).

    python benchmarks/backend_agreement.py
"""

from __future__ import annotations

import numpy as np

from bench.data.images import read_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.models import build_model
from bench.runtime.devices import get_device
from bench.runtime.latency import load_on

BOUND = 1e-4


def nchw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None] / 255.0, dtype=np.float32)


def main() -> None:
    bird = read_image(EMBEDDED_ROOT / "Set5" / "HR" / "bird.png")
    cases = [(f"bicubic x{s}", build_model("bicubic", {}, {"scale": s}), nchw(imresize(bird[:240, :240], 1 / s)))
             for s in (2, 3, 4)]  # fmt: skip
    cases.append(
        ("identity", build_model("identity", {}, {}), nchw(read_image(EMBEDDED_ROOT / "scenes" / "coffee.png")))
    )
    print(f"{'baseline':<12} {'input':<14} {'onnxruntime':>12} {'tflite':>12}  bound {BOUND:g}")
    for name, model, x in cases:
        reference = load_on(get_device("cpu-torch", threads=1), model).run(x)
        errors = [float(np.abs(load_on(get_device(d, threads=1), model).run(x) - reference).max())
                  for d in ("cpu-onnxruntime", "cpu-tflite")]  # fmt: skip
        verdict = "ok" if max(errors) <= BOUND else "ABOVE BOUND"
        print(f"{name:<12} {'x'.join(map(str, x.shape)):<14} {errors[0]:>12.2e} {errors[1]:>12.2e}  {verdict}")


if __name__ == "__main__":
    main()
