"""The sandbox's cost: the same plan scored three ways, for one model of each format, ``--repeats`` times,
rotating which way goes first: in this process (``bench.scoring.evaluate``), in a fresh unconfined
Python process (this script with ``--evaluate``: the reference, since a long-lived process that has run
other models and converters carries their thread pools), and through the sandboxed child
(``bench.recording.record_run`` without a store).

Prints, per format, the median latency each way and the ratios (the sandbox must not change what is
measured: target within 2 % of the plain process), the PSNR each way (must be equal), and the wall
time each way (a child adds an interpreter start-up, imports and a model load).

    python benchmarks/sandbox_overhead.py [--repeats 3] [--protocol one-block|default]

``--protocol one-block`` (the default here) times one block of at least 20 runs; ``default`` uses the
project's default latency protocol (warm-up, blocks repeated until their medians agree), the one the
2 % target is about.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.paths import SUBMISSIONS_DIR
from bench.plan import Plan, make_plan
from bench.recording import record_run
from bench.results import Result
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
    from bench.runtime.convert import to_onnx, to_tflite  # heavy (TensorFlow, JAX): not in the plain process

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


WAYS = ("in process", "plain process", "sandbox")


def _plain_process(folder: Path, protocol: str) -> Result:
    """The plan evaluated in a fresh, unconfined Python process (this script with ``--evaluate``)."""
    done = subprocess.run([sys.executable, __file__, "--evaluate", str(folder), "--protocol", protocol],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return Result.model_validate_json(done.stdout.strip().splitlines()[-1])


def _run(way: str, plan: Plan, folder: Path, protocol: str) -> Result:
    if way == "in process":
        return evaluate(plan)
    if way == "plain process":
        return _plain_process(folder, protocol)
    return record_run(plan, None).result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="one-block")
    parser.add_argument("--formats", nargs="*", default=["safetensors", "onnx", "tflite"])
    parser.add_argument("--evaluate", help=argparse.SUPPRESS)  # the plain process: print the result JSON
    args = parser.parse_args()
    task = get_task(TASK)
    if args.evaluate:
        plan = make_plan(load_submission(args.evaluate), task, latency=PROTOCOLS[args.protocol])
        print(evaluate(plan).model_dump_json())
        return
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, folder in _folders(Path(tmp)).items():
            if fmt not in args.formats:
                continue
            plan = make_plan(load_submission(folder), task, latency=PROTOCOLS[args.protocol])
            medians: dict[str, list[float]] = {way: [] for way in WAYS}
            walls: dict[str, list[float]] = {way: [] for way in WAYS}
            psnr: dict[str, float] = {}
            for repeat in range(args.repeats):
                for way in WAYS[repeat % 3 :] + WAYS[: repeat % 3]:  # rotated: no way always runs first
                    start = time.perf_counter()
                    result = _run(way, plan, folder, args.protocol)
                    walls[way].append(time.perf_counter() - start)
                    medians[way].append(result.latency[0].median_ms)
                    psnr[way] = result.metrics.psnr
            ms = {way: statistics.median(v) for way, v in medians.items()}
            wall = {way: statistics.median(v) for way, v in walls.items()}
            ratios = (
                f"sandbox / plain process {ms['sandbox'] / ms['plain process']:.3f}, "
                f"sandbox / in process {ms['sandbox'] / ms['in process']:.3f}"
            )
            print(f"{fmt:12s} median latency: in process {ms['in process']:.3f} ms, plain process "
                  f"{ms['plain process']:.3f} ms, sandbox {ms['sandbox']:.3f} ms; {ratios}; "
                  f"PSNR {' / '.join(f'{psnr[w]:.4f}' for w in WAYS)}; "
                  f"wall {' / '.join(f'{wall[w]:.2f} s' for w in WAYS)}")  # fmt: skip


if __name__ == "__main__":
    main()
