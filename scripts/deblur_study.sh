#!/usr/bin/env bash
# The deblurring optimisation study (docs/optimize.md): the shipped deblurring U-Nets (unet-deblur and the
# portable search's unet-portable-deblur) through FP16, INT8 post-training, INT8 quantisation-aware and the
# architecture-aware pruning (with its equal-training control), each scored on deblur-demo-motion (embedded)
# and deblur-deepdeblur-samples (two real 1280x720 blurs) and timed on every CPU device that runs its
# precision; then the table of PSNR and latency change against each reference.
# Usage: BENCH_TRAIN_DATA=../shared/datasets/CSun_Hays80 bash scripts/deblur_study.sh [OUT] [DATA_ROOT]
# (REFS="unet-deblur" for one reference; SKIP_PRUNE=1 to leave the pruning out; finished steps are skipped;
# each optimised model is copied to submissions/optimized unless a copy is there, and scored from there)
set -euo pipefail
out=${1:-runs/deblur-study}
data_root=${2:-../shared/datasets}
bench=${BENCH:-.venv/bin/bench}
db="sqlite:///$(realpath -m "$out")/study.db"
qat_steps=${QAT_STEPS:-300}
mkdir -p "$out"
fp32_devices=(--device cpu-torch --device cpu-onnxruntime --device cpu-tflite)
shipped=submissions/optimized
ship() {  # an optimised copy keeps the reference's team and tag: give it the study's own, and score it from
  # submissions/optimized (the one place a project model may carry a project team; an existing copy is kept)
  sed -i -e 's/^team: bench reference models$/team: deblur study/' -e '/^- reference$/d' "$1/submission.yaml"
  [ -d "$shipped/$(basename "$1")" ] || cp -r "$1" "$shipped/"
}
score() {  # folder, then devices
  local folder=$1; shift
  "$bench" score "$folder" --task deblur-demo-motion "$@" --quick --db "$db"  # embedded data
  "$bench" score "$folder" --task deblur-deepdeblur-samples "$@" --quick --data-root "$data_root" --db "$db"
}
for ref in ${REFS:-unet-deblur unet-portable-deblur}; do
  base=submissions/reference/$ref
  base_name=$(sed -n 's/^name: //p' "$base/submission.yaml")  # e.g. unet-portable-deblur-demo-motion
  score "$base" "${fp32_devices[@]}"
  [ -d "$out/$ref-fp16" ] || "$bench" optimize quantize "$base" --task deblur-demo-motion --precision fp16 \
    --out "$out/$ref-fp16" --no-score
  [ -d "$out/$ref-int8" ] || "$bench" optimize quantize "$base" --task deblur-demo-motion --precision int8 \
    --out "$out/$ref-int8" --no-score
  [ -d "$out/$ref-int8-qat" ] || "$bench" optimize quantize "$base" --task deblur-demo-motion --precision int8 \
    --qat-steps "$qat_steps" --out "$out/$ref-int8-qat" --name "$base_name-int8-qat" --no-score
  [ -n "${SKIP_PRUNE:-}" ] || [ -d "$out/$ref-pruned" ] || "$bench" optimize prune "$base" --task deblur-demo-motion --control \
    --rounds "${PRUNE_ROUNDS:-6}" --finetune-steps "${PRUNE_STEPS:-100}" --final-steps "${PRUNE_FINAL:-400}" \
    --out "$out/$ref-pruned"
  for variant in fp16 int8 int8-qat pruned; do [ ! -d "$out/$ref-$variant" ] || ship "$out/$ref-$variant"; done
  score "$shipped/$ref-fp16" --device cpu-tflite-fp16
  score "$shipped/$ref-int8" --device cpu-tflite-int8
  score "$shipped/$ref-int8-qat" --device cpu-tflite-int8
  [ ! -d "$shipped/$ref-pruned" ] || score "$shipped/$ref-pruned" "${fp32_devices[@]}"
done
.venv/bin/python scripts/deblur_study_table.py "$db"
