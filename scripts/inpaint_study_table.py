"""Print the GSAT inpainting study's tables (scripts/inpaint_study.sh) from its results store.

Table 1: PSNR / SSIM / L1 of each model on inpaint-demo and on each hole-ratio bin (inpaint-demo-b1..b6),
with the change of the LIST / GSAT model against the dilated-conv baseline. Table 2: params, MACs and the
median latency on each CPU device (inpaint-demo, full protocol). Usage: python scripts/inpaint_study_table.py URL
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.store import Store

BASELINE, LIGHT = "inpaint-cpu", "inpaint-list-cpu"
TASKS = ["inpaint-demo", *(f"inpaint-demo-b{b}" for b in range(1, 7))]
BINS = {"inpaint-demo": "demo masks (4 strokes)", **{f"inpaint-demo-b{b}": f"{max(1, 10 * (b - 1))}-{10 * b} %"
                                                      for b in range(1, 7)}}  # fmt: skip
DEVICES = ["cpu-torch", "cpu-onnxruntime", "cpu-tflite"]


def main(url: str) -> None:
    newest: dict[tuple[str, str, str], dict] = {}
    for row in Store(url).leaderboard_rows():
        key = (str(row["submission"]), str(row["task"]), str(row["device"]))
        if row["result_id"] >= newest.get(key, {"result_id": -1})["result_id"]:
            newest[key] = row
    quality = {(s, t): r for (s, t, _), r in newest.items()}
    print("| holes | baseline PSNR / SSIM / L1 % | LIST + GSAT PSNR / SSIM / L1 % | change PSNR (dB) | change SSIM |")
    print("|---|---|---|---|---|")
    for task in TASKS:
        if (BASELINE, task) not in quality or (LIGHT, task) not in quality:
            continue
        a, b = quality[(BASELINE, task)], quality[(LIGHT, task)]
        cells = [f"{r['psnr']:.3f} / {r['ssim']:.4f} / {r['l1']:.3f}" for r in (a, b)]
        change = f"{b['psnr'] - a['psnr']:+.3f} | {b['ssim'] - a['ssim']:+.4f}"
        print(f"| {BINS[task]} | {cells[0]} | {cells[1]} | {change} |")
    print()
    print("| model | params | G MACs (1x4x256x256) | " + " | ".join(f"{d} ms" for d in DEVICES) + " |")
    print("|---|---|---|" + "---|" * len(DEVICES))
    for name in (BASELINE, LIGHT):
        row = quality.get((name, "inpaint-demo"))
        if row is None:
            continue
        times = [newest.get((name, "inpaint-demo", d), {}).get("median_ms") for d in DEVICES]
        cells = [f"{t:.1f}" if t is not None else "" for t in times]
        print(f"| {name} | {row['params']:,} | {row['macs'] / 1e9:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
