"""The sandbox's cost: the same plan scored in process (``bench.scoring.evaluate``, the reference run) and
through the sandboxed child (``bench.recording.record_run`` without a store), for one model of each
format, in the same process, ``--repeats`` times, alternating which of the two goes first.

Prints, per format, the median latency each way and their ratio (the sandbox must not change what is
measured: target within 2 %), the PSNR each way (must be equal), and the wall time each way (the
sandbox adds a child start-up: interpreter, imports, model load).

    python benchmarks/sandbox_overhead.py [--repeats 3] [--protocol one-block|default]

``--protocol one-block`` (the default here) times one block of at least 20 runs; ``default`` uses the
project's default latency protocol (warm-up, blocks repeated until their medians agree), the one the
2 % target is about.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.paths import SUBMISSIONS_DIR
from bench.plan import make_plan
from bench.recording import record_run
from bench.runtime.convert import to_onnx, to_tflite
from bench.runtime.protocol import LatencySettings
from bench.scoring import evaluate
from bench.submission import load_submission
from bench.tasks import get_task

TASK = "denoise-demo-s25"  # four 256 x 256 images, timed at 1 x 3 x 256 x 256: one static shape for all
PROTOCOLS = {
    "one-block": LatencySettings(
        warmup_runs=3, warmup_min_s=0.2, min_runs=20, min_s=0.5, stable_blocks=1, max_blocks=1
    ),
    "default": LatencySettings(),
}


def _folders(root: Path) -> dict[str, Path]:
    """LIST-DnCNN (the shipped reference) as safetensors, and as ONNX and TFLite converted from it here."""
    reference = SUBMISSIONS_DIR / "reference" / "dncnn-list-color-s25"
    model = load_submission(reference).build({}).eval()
    folders = {"safetensors": reference}
    for fmt, convert in (("onnx", to_onnx), ("tflite", to_tflite)):
        folder = root / fmt
        folder.mkdir()
        convert(model, (1, 3, 256, 256), folder / f"model.{fmt}")
        (folder / "submission.yaml").write_text(
            f"name: list-dncnn-{fmt}\nteam: bench\ntasks: [{TASK}]\nformat: {fmt}\nfiles: {{model: model.{fmt}}}\n"
        )
        folders[fmt] = folder
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="one-block")
    parser.add_argument("--formats", nargs="*", default=["safetensors", "onnx", "tflite"])
    args = parser.parse_args()
    task = get_task(TASK)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, folder in _folders(Path(tmp)).items():
            if fmt not in args.formats:
                continue
            plan = make_plan(load_submission(folder), task, latency=PROTOCOLS[args.protocol])
            inside, outside, walls = [], [], {"in process": [], "sandbox": []}
            psnr = {}
            for repeat in range(args.repeats):
                order = ("in process", "sandbox") if repeat % 2 == 0 else ("sandbox", "in process")
                results = {}
                for way in order:  # alternated, so that neither side always runs first
                    start = time.perf_counter()
                    results[way] = evaluate(plan) if way == "in process" else record_run(plan, None).result
                    walls[way].append(time.perf_counter() - start)
                inside.append(results["in process"].latency[0].median_ms)
                outside.append(results["sandbox"].latency[0].median_ms)
                psnr = {way: result.metrics.psnr for way, result in results.items()}
            a, b = statistics.median(inside), statistics.median(outside)
            wall = {k: statistics.median(v) for k, v in walls.items()}
            print(f"{fmt:12s} latency median in process {a:8.3f} ms, sandbox {b:8.3f} ms, ratio {b / a:.3f}; "
                  f"PSNR {psnr['in process']:.4f} / {psnr['sandbox']:.4f}; "
                  f"wall {wall['in process']:.2f} s / {wall['sandbox']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
