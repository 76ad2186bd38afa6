#!/usr/bin/env bash
# The GSAT inpainting study (docs/optimize.md): the dilated-conv inpainting network and its LIST / GSAT /
# bilinear + LIST rewrite (Lahiri et al.) trained alike from scratch (recipes inpaint-cpu and inpaint-list-cpu:
# same steps, batch, patches, seed), scored on inpaint-demo and on each hole-ratio bin inpaint-demo-b1..b6
# (embedded), timed on every CPU device at 1x4x256x256; then the per-bin table.
# Usage: BENCH_TRAIN_DATA=../shared/datasets/CSun_Hays80 bash scripts/inpaint_study.sh [OUT]
# (finished trainings are kept: a run folder with submission/ is not retrained; the exported models are
# copied to submissions/reference/ if not there, and scored from there)
set -euo pipefail
out=${1:-runs}
bench=${BENCH:-.venv/bin/bench}
db="sqlite:///$(realpath -m "$out")/inpaint-study.db"
for recipe in inpaint-cpu inpaint-list-cpu; do
  [ -f "$out/$recipe/submission/submission.yaml" ] || "$bench" train "recipes/$recipe.yaml" --out "$out/$recipe" --quiet
  folder="submissions/reference/$recipe"  # shipped: project-trained models carry the reserved reference team
  [ -d "$folder" ] || cp -r "$out/$recipe/submission" "$folder"
  "$bench" score "$folder" --task inpaint-demo --device cpu-torch --device cpu-onnxruntime --device cpu-tflite --db "$db"
  for bin in 1 2 3 4 5 6; do
    "$bench" score "$folder" --task "inpaint-demo-b$bin" --quality-device cpu-torch --quick --db "$db"
  done
done
.venv/bin/python scripts/inpaint_study_table.py "$db"
