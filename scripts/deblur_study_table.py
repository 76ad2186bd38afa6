"""Print the deblurring optimisation study's table (scripts/deblur_study.sh) from its results store.

One row per (reference, optimisation, task): the PSNR and its change against the unoptimised reference on
the same task, and the median latency on each device with its change against the reference on the same
device (a quantised model runs on cpu-tflite-fp16 / cpu-tflite-int8 and is compared with the reference's
fp32 cpu-tflite). Usage: python scripts/deblur_study_table.py STORE_URL
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import Store

SUFFIXES = {"-fp16": "FP16 (post-training)", "-int8-qat": "INT8 (quantisation-aware)", "-int8": "INT8 (post-training)",
            "-pruned": "pruned (architecture-aware)"}  # fmt: skip
DEVICES = ["cpu-torch", "cpu-onnxruntime", "cpu-tflite", "cpu-tflite-fp16", "cpu-tflite-int8"]
FP32_TWIN = {"cpu-tflite-fp16": "cpu-tflite", "cpu-tflite-int8": "cpu-tflite"}


def split(name: str) -> tuple[str, str]:
    for suffix, method in SUFFIXES.items():
        if name.endswith(suffix):
            return name.removesuffix(suffix), method
    return name, "none (fp32 reference)"


def main(url: str) -> None:
    psnr: dict[tuple[str, str], float] = {}
    latency: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    newest: dict[tuple[str, str], int] = {}
    for row in Store(url).leaderboard_rows():
        key = (str(row["submission"]), str(row["task"]))
        if row["result_id"] >= newest.get(key, -1):
            newest[key] = row["result_id"]
            psnr[key] = float(row["psnr"])
            if row["device"] is not None and row["median_ms"] is not None:
                latency[key][str(row["device"])] = float(row["median_ms"])
    print("| reference | optimisation | task | PSNR (dB) | change (dB) | " + " | ".join(DEVICES) + " |")
    print("|---|---|---|---|---|" + "---|" * len(DEVICES))
    order = ["none (fp32 reference)", *SUFFIXES.values()]
    for name, task in sorted(psnr, key=lambda k: (split(k[0])[0], k[1], order.index(split(k[0])[1]))):
        reference, method = split(name)
        base = (reference, task)
        change = f"{psnr[(name, task)] - psnr[base]:+.3f}" if base in psnr and name != reference else ""
        cells = []
        for device in DEVICES:
            ms = latency[(name, task)].get(device)
            twin = latency.get(base, {}).get(FP32_TWIN.get(device, device))
            if ms is None:
                cells.append("")
            elif twin is None or name == reference:
                cells.append(f"{ms:.1f} ms")
            else:
                cells.append(f"{ms:.1f} ms ({(ms / twin - 1) * 100:+.0f} %)")
        print(f"| {reference} | {method} | {task} | {psnr[(name, task)]:.3f} | {change} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
