#!/usr/bin/env bash
# Quantise every SR reference to TFLite fp16 and int8 with `bench optimize quantize` and print the
# table of docs/optimize.md (PSNR on Set5 x2 Y and cpu-tflite latency, fp32 vs quantised).
# Usage: BENCH_TRAIN_DATA=../shared/datasets/CSun_Hays80 bash scripts/quantize_references.sh [OUT]
set -euo pipefail
out=${1:-runs/quantized}
bench=${BENCH:-.venv/bin/bench}
for folder in submissions/reference/*/; do
  ref=$(basename "$folder")
  grep -q '"sr-\|- sr-' "$folder/submission.yaml" || continue  # the SR references (their tasks are sr-*)
  for precision in fp16 int8; do
    "$bench" optimize quantize "submissions/reference/$ref" --task sr-set5-x2 --precision "$precision" \
      --out "$out/$ref-$precision" --force
  done
done
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
print("| reference | precision | PSNR fp32 | PSNR quantised | change | latency fp32 (ms) | quantised (ms) | change |")
print("|---|---|---|---|---|---|---|---|")
for report in sorted(Path(sys.argv[1]).glob("*/quantize-report.json")):
    r = json.loads(report.read_text())
    a, b = r["fp32"], r["quantized"]
    print(f"| {r['baseline_name']} | {r['settings']['precision']} | {a['psnr']:.3f} | {b['psnr']:.3f} | "
          f"{b['psnr'] - a['psnr']:+.3f} | {a['latency_ms']:.1f} | {b['latency_ms']:.1f} | "
          f"{(b['latency_ms'] / a['latency_ms'] - 1) * 100:+.1f} % |")
PY
