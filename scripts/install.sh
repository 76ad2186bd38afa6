#!/usr/bin/env bash
# Install bench and its test tools into ./.venv, from scratch, without pulling CUDA wheels.
#   bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_args=(--disable-pip-version-check)
# This machine kind keeps the CPU build of torch as a local wheel in /opt/wheels.
[ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
# constraints.txt pins torch to that CPU build: anything newer pulls several GB of CUDA wheels.
.venv/bin/pip install "${pip_args[@]}" -c constraints.txt -e ".[dev]"
# lpips only for its shipped linear-layer weights: its own import needs torchvision (a CUDA build
# on PyPI), so install it without dependencies; bench never imports it.
.venv/bin/pip install "${pip_args[@]}" --no-deps "lpips==0.1.4"
# onnx2torch (ONNX submissions timed on TFLite devices) without its torchvision dependency: PyPI's torchvision
# cannot import beside the CPU build of torch, and onnx2torch needs it only for two detection ops.
.venv/bin/pip install "${pip_args[@]}" --no-deps "onnx2torch==1.5.15"
.venv/bin/python -c "import torch, bench; print('installed bench', bench.__version__, 'with torch', torch.__version__)"
