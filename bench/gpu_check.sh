#!/usr/bin/env bash
# The GPU check, in one go (an NVIDIA GPU with CUDA 12 drivers; about 5 minutes):
#   1. installs the `gpu` extra (cupy-cuda12x) and the test tools into .venv;
#   2. runs the backend scenario on the device with NPKERAS_BACKEND=cupy: training the MLP,
#      every activation and loss, a multi-input functional model, an embedding, a
#      Keras-style layer through the tape, the other layer families with every optimizer,
#      callbacks that write files, save/load across cupy and numpy, and float64
#      finite-difference gradient checks;
#   3. runs bench/gpu_check.py: float64 parity with PyTorch CUDA (loss, every gradient,
#      weights after 3 Adam steps) for the MLP and the CNN, then seconds per epoch of both
#      against a PyTorch CUDA loop. Results: bench/results/gpu.json.
# Usage: bash bench/gpu_check.sh   (PY=/path/to/python for another interpreter; offline, point
# PIP_FIND_LINKS at a folder holding the cupy-cuda12x wheel from `pip download cupy-cuda12x`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || { python3 -m venv .venv && PY=.venv/bin/python; }
"$PY" -m pip install -q -e ".[gpu,test]"
"$PY" -c "import cupy; print('CuPy', cupy.__version__, 'on',
  cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())"
export NPKERAS_BACKEND=cupy PYTHONPATH="src:.${PYTHONPATH:+:$PYTHONPATH}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
timeout 300 "$PY" -m tests.backend.scenario "$scratch"
mkdir -p bench/results
timeout 420 "$PY" bench/gpu_check.py --out bench/results/gpu.json
