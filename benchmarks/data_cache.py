"""Data-loading time of a task: the uncached pipeline (read + degrade) vs the datasets cache.

Iterates every sample and touches its input and target (one value per 4 KiB page), no model.
Timed in one process: the uncached pipeline (best of ``--repeats``, so the OS file cache is warm
as it is for the cached runs), the first cached run (materializing the cache: the pipeline plus
writing Arrow), then the cached runs (best of ``--repeats``), as writable copies (the default of
``iter_cached``) and as read-only zero-copy views. Prints each time and its ratio to the
uncached run; the target is a cached run at least 3x faster.

    python benchmarks/data_cache.py [--task denoise-cbsd68-s25] [--data-root ../shared/datasets]

Without ``--data-root``: ``../shared/datasets`` when it exists, else a CBSD68-layout folder of
50 images (481 x 321, made from the embedded scenes) built in a temporary folder. The cache goes
to a temporary folder unless ``--cache-root`` is given (then an existing cache is reused and the
"first run" only opens it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np
import pyarrow as pa
from PIL import Image

from bench.data.cache import iter_cached
from bench.data.images import list_images, read_image, write_image
from bench.data.pipeline import Sample, iter_samples
from bench.data.sources import EMBEDDED_ROOT
from bench.paths import CHECKOUT
from bench.tasks import get_task

SHARED = CHECKOUT.parent / "shared" / "datasets"


def build_fixture(root: Path, count: int = 50) -> Path:
    """``root/CBSD68/*.png``: ``count`` 481 x 321 photos (crops of the embedded scenes, resized)."""
    scenes = [read_image(p) for p in list_images(EMBEDDED_ROOT / "scenes")]
    for i in range(count):
        top, left = 4 * (i // len(scenes)), 3 * (i // len(scenes))
        crop = scenes[i % len(scenes)][top : top + 160, left : left + 240]
        image = np.asarray(Image.fromarray(crop).resize((481, 321), Image.Resampling.BICUBIC))
        write_image(root / "CBSD68" / f"{i:03d}.png", image.transpose(1, 0, 2).copy() if i % 3 == 2 else image)
    return root


def consume(samples: Iterable[Sample]) -> tuple[int, float]:
    """Touch every sample's input and target; (count, a checksum so nothing is optimised away)."""
    count, total = 0, 0.0
    for sample in samples:
        total += float(sample.input.reshape(-1)[::1024].sum()) + float(sample.target.reshape(-1)[::4096].sum())
        count += 1
    return count, total


def timed(run: Callable[[], Iterable[Sample]], repeats: int) -> tuple[float, int, float]:
    best, count, total = float("inf"), 0, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count, total = consume(run())
        best = min(best, time.perf_counter() - start)
    return best, count, total


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="denoise-cbsd68-s25")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-root", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    task = get_task(args.task)
    scratch = Path(tempfile.mkdtemp(prefix="bench-data-cache-"))
    try:
        data_root = args.data_root
        if data_root is None:
            data_root = SHARED if SHARED.is_dir() else build_fixture(scratch / "data")
        cache_root = args.cache_root or scratch / "cache"
        print(f"task {task.id} on {data_root / task.data.path}, cache under {cache_root}")

        uncached, count, reference = timed(lambda: iter_samples(task, data_root), args.repeats)
        pool = pa.default_memory_pool()
        start = time.perf_counter()
        _, first_total = consume(iter_cached(task, data_root, cache_root))
        first = time.perf_counter() - start
        arrow_peak = pool.max_memory()
        cached, _, cached_total = timed(lambda: iter_cached(task, data_root, cache_root), args.repeats)
        views, _, views_total = timed(lambda: iter_cached(task, data_root, cache_root, writable=False), args.repeats)
        if not reference == first_total == cached_total == views_total:
            raise SystemExit(f"checksums differ: {reference} {first_total} {cached_total} {views_total}")

        tracemalloc.start()
        consume(iter_cached(task, data_root, cache_root))
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        cache_dirs = [p for p in cache_root.iterdir() if p.name.startswith(f"{task.id}-v")]
        size = max((folder_size(p) for p in cache_dirs), default=0)

        print(f"{count} samples, best of {args.repeats}; cache on disk {size / 2**20:.0f} MiB")
        print(f"uncached pipeline (read + degrade): {uncached * 1000:8.1f} ms   1.00x")
        print(f"first cached run (materialize):     {first * 1000:8.1f} ms   {uncached / first:.2f}x")
        print(f"cached run (writable copies):       {cached * 1000:8.1f} ms   {uncached / cached:.2f}x")
        print(f"cached run (read-only views):       {views * 1000:8.1f} ms   {uncached / views:.2f}x")
        print(
            f"peak Arrow memory while materializing: {arrow_peak / 2**20:.0f} MiB; "
            f"peak traced Python/numpy memory in a cached run: {traced_peak / 2**20:.1f} MiB"
        )
        print("target (cached >= 3x faster):", "met" if uncached / cached >= 3 else "NOT met")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
