"""SSIM speed and agreement vs scikit-image on a 2040 x 1356 RGB image (DIV2K size).

Reference run: ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=2)`` on the same pair, in the same
process. Each side is timed ``--repeats`` times and the best time is kept (least disturbed by
the other work on a shared machine). Prints the speed-up ratio and the absolute difference.

    python benchmarks/ssim_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from skimage.metrics import structural_similarity

from bench.data.images import read_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.metrics.ssim import ssim


def best_time(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    photo = read_image(EMBEDDED_ROOT / "Set5" / "HR" / "baby.png")
    target = imresize(photo, output_shape=(1356, 2040))  # a real photograph at DIV2K size
    rng = np.random.default_rng(0)
    degraded = np.clip(target + rng.normal(0, 8, target.shape), 0, 255).astype(np.uint8)

    def reference() -> float:
        return float(
            structural_similarity(
                degraded,
                target,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=255,
                channel_axis=2,
            )
        )

    ref_time, ref_value = best_time(reference, args.repeats)
    our_time, our_value = best_time(lambda: ssim(degraded, target), args.repeats)
    print(f"image: {target.shape[1]}x{target.shape[0]} RGB, best of {args.repeats}")
    print(f"skimage (reference): {ref_time * 1000:8.1f} ms   ssim = {ref_value:.12f}")
    print(f"bench.metrics.ssim : {our_time * 1000:8.1f} ms   ssim = {our_value:.12f}")
    print(f"speed-up vs skimage: {ref_time / our_time:.2f}x   |difference| = {abs(ref_value - our_value):.2e}")


if __name__ == "__main__":
    main()
