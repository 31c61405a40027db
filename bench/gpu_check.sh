#!/usr/bin/env bash
# Issue 14's GPU checks in one run, on a CUDA machine that reaches no package index (the device
# tool's H200: nvcc, CMake, torch, pybind11, scikit-build-core and pytest are there; Eigen and
# Captum are not). Builds the extension with the CUDA backend for the machine's GPU, runs the GPU
# tests, then the benchmark against hand-written PyTorch and Captum. Logs go to $OUT.
#
# Beforehand, here (with network), in the repository root:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 -d .whl cmeel cmeel-eigen captum
# then on the device, carrying .whl:  bash bench/gpu_check.sh  (the steps' limits add up to under
# ten minutes, one device command; tried here with stand-ins for nvidia-smi and compute-sanitizer)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"

# The extension, for this GPU's architecture only (a minute, not two).
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v python3)" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DCMAKE_PREFIX_PATH=/tmp/site/cmeel.prefix \
    -DGRADLIME_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build build/gpu -j "$(nproc)" >"$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log" | head -30; exit 1; }
ln -sf "$PWD"/build/gpu/_core*.so python/gradlime/
export PYTHONPATH=$PWD/python:/tmp/site
python3 -c "import gradlime as gl; print(gl.cuda_info())" | tee "$OUT/cuda_info.txt"

# The GPU tests (and the host-reference tests beside them), races and memory errors on a small
# run of every kernel, then the benchmark.
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_device.py tests/test_device_lime.py \
    tests/test_device_shap.py tests/test_device_emulation.py -rs 2>&1 | tee "$OUT/tests.log" | tail -25
# torch modules and tensors on the GPU, and the command line's --device cuda
timeout 40 python3 -m pytest -q -p no:cacheprovider tests/test_torch.py tests/test_torch_inputs.py \
    tests/test_cli.py -k cuda -rs 2>&1 | tee "$OUT/tests_torch_cli.log" | tail -8
cat >/tmp/small_run.py <<'PY'
import sys
import numpy as np
import gradlime as gl
sys.path.insert(0, "tests")
from conftest import random_network
m = random_network(("elu", "tanh", "softmax"), d=9)
X = np.random.default_rng(0).normal(size=(4, 9))
gl.explain(m, X, sigma=0.5, n_samples=300, device="cuda")
gl.lime(m, X, n_samples=300, device="cuda")
gl.kernel_shap(m, X, baseline=X[:3], n_samples=64, device="cuda")
print("small run done")
PY
for tool in racecheck memcheck; do
    timeout 90 compute-sanitizer --tool "$tool" --error-exitcode 9 python3 /tmp/small_run.py 2>&1 | tail -6 | tee "$OUT/$tool.log"
done
timeout 180 python3 bench/gpu_vs_torch.py --repeat 5 2>&1 | tee "$OUT/bench.log"
