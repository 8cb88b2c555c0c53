#!/usr/bin/env bash
# The GPU benchmark in one command, on a machine with JAX (CUDA) but without Keras and without a
# network: installs the wheels of benchmarks/wheels/ (made by benchmarks/gpu_wheels.sh) where Keras is
# missing, then runs benchmarks/gpu.py on the JAX backend with its results in $OUT (default
# benchmarks/results/gpu/): gpu.json, gpu.md, gpu_log.txt, nvidia-smi.txt.
#
#     bash benchmarks/gpu_run.sh [benchmarks/gpu.py flags ...]
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=benchmarks/wheels
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
export OUT KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
if ! "$PY" -c 'import keras' 2>/dev/null; then
    # Into this Python's environment, its installed packages used where they satisfy Keras; else the
    # wheels alone into a folder of their own.
    "$PY" -m pip install --quiet --no-index --no-cache-dir --find-links "$WHEELS" keras \
    || { "$PY" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
             --target /tmp/gpu-bench-site "$WHEELS"/*.whl \
         && export PYTHONPATH=/tmp/gpu-bench-site${PYTHONPATH:+:$PYTHONPATH}; } \
    || { echo "gpu_run.sh: keras could not be installed from $WHEELS (run benchmarks/gpu_wheels.sh first)"; exit 1; }
fi
"$PY" - <<'PYEOF' || exit 1
import importlib
missing = []
for name in ('keras', 'jax', 'numpy', 'h5py', 'scipy', 'skimage', 'PIL', 'tqdm', 'matplotlib'):
    try:
        importlib.import_module(name)
    except ImportError as error:
        missing.append('%s (%s)' % (name, error))
if missing:
    raise SystemExit('gpu_run.sh: missing on this machine: ' + ', '.join(missing))
PYEOF
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
"$PY" benchmarks/gpu.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_log.txt"
