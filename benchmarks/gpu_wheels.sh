#!/usr/bin/env bash
# Downloads the Python packages that benchmarks/gpu.py needs and a GPU machine with JAX but no Keras
# lacks, as wheels for CPython 3.12 on x86-64 Linux, into benchmarks/wheels/ (git-ignored), for
# benchmarks/gpu_run.sh to install there without a network:
#
#     bash benchmarks/gpu_wheels.sh            # here, with the package index reachable
#     bash benchmarks/gpu_wheels.sh 3.11       # another Python version
#
# keras at the version installed here (the same Keras on both machines), its pure-Python
# dependencies and optree (compiled: a cp312 wheel). numpy and ml-dtypes come with JAX (it needs
# them); h5py, scipy, scikit-image, Pillow, tqdm and matplotlib (the project's data code and run log)
# are expected on the GPU machine too: gpu_run.sh checks them all before it starts.
set -euo pipefail
cd "$(dirname "$0")"
PY_VERSION=${1:-3.12}
KERAS_VERSION=$(python -c 'import importlib.metadata as m; print(m.version("keras"))')
rm -rf wheels
mkdir -p wheels
python -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d wheels \
    "keras==$KERAS_VERSION" namex optree absl-py rich packaging markdown-it-py mdurl pygments typing-extensions
ls -l wheels
du -sh wheels
