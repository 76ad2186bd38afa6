"""Peak memory of a scoring run does not grow with the number of images (streaming reads).

Builds an image folder of N 512x512 photos (crops of the embedded scenes, resized), a
denoising task over it (AWGN sigma 25, as CBSD68), and scores the identity baseline on it in a
fresh child process for each N, which prints its own peak RSS (``ru_maxrss``). The reference
run is N = 10, so the ratio shows how peak memory changes when there are 10x more images.

    python benchmarks/streaming_memory.py [--counts 10 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.data.images import list_images, read_image, write_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.paths import SUBMISSIONS_DIR

CHILD = """
import json, resource, sys
from pathlib import Path
from bench.runtime.protocol import LatencySettings
from bench.plan import make_plan
from bench.scoring import evaluate
from bench.submission import load_submission
from bench.tasks import get_task
fast = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0, max_s=5)
plan = make_plan(load_submission(sys.argv[1]), get_task("denoise-stream"), data_root=Path(sys.argv[2]), latency=fast)
result = evaluate(plan)
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"images": len(result.metrics.per_image), "peak_rss_mib": peak_mib}))
"""


def build(root: Path, count: int) -> None:
    scenes = [read_image(p) for p in list_images(EMBEDDED_ROOT / "scenes")]
    for i in range(count):
        photo = scenes[i % len(scenes)]
        top, left = (i * 7) % 64, (i * 13) % 64
        crop = imresize(photo[top : top + 192, left : left + 192], output_shape=(512, 512))
        write_image(root / f"images-{count}" / f"{i:04d}.png", crop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        tasks = root / "tasks"
        tasks.mkdir()
        peaks = {}
        for count in args.counts:
            build(root, count)
            task = {
                "id": "denoise-stream",
                "version": 1,
                "kind": "denoise",
                "title": f"streaming check, {count} images",
                "data": {"source": "image-folder", "path": f"images-{count}"},
                "degradation": {"name": "awgn", "params": {"sigma": 25}},
                "metric": {"colour": "rgb", "crop_border": 0},
                "latency": {"input_shape": [1, 3, 64, 64]},
            }
            (tasks / "denoise-stream.yaml").write_text(yaml.safe_dump(task))
            env = os.environ | {"BENCH_TASKS_DIR": str(tasks)}
            command = [sys.executable, "-c", CHILD, str(SUBMISSIONS_DIR / "baselines" / "identity"), str(root)]
            run = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            report = json.loads(run.stdout.strip().splitlines()[-1])
            peaks[count] = report["peak_rss_mib"]
            print(f"{report['images']:4d} images of 512x512: peak RSS {report['peak_rss_mib']:7.1f} MiB")
        reference = args.counts[0]
        for count in args.counts[1:]:
            print(f"peak RSS ratio {count} / {reference} images: {peaks[count] / peaks[reference]:.3f}")


if __name__ == "__main__":
    main()
