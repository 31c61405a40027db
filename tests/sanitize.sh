#!/usr/bin/env bash
# The suite against a core built with AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bash tests/sanitize.sh [pytest arguments]        # from a checkout, in the dev environment
#
# Needs what `pip install ".[test]"` installs plus the build requirements in the same environment
# (`pip install pybind11 cmeel-eigen`), GCC and CMake. PYTHON picks the interpreter (default: the
# python3 on PATH), SANITIZE_BUILD the build folder (default build/sanitize; a first build takes
# about 6 minutes on 2 cores). The sanitizer runtimes are preloaded (C++ exceptions thrown through
# the interpreter need libasan loaded first), leaks are not reported (the interpreter's own
# allocations would drown them), and the first finding stops the run with its stack. pytest runs
# with -s: a finding aborts the process, and captured output would go down with it. The tests
# that run subprocesses by the clock (Ctrl-C, thread counts) are left out: under the sanitizers'
# slowdown their timing means nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(command -v "${PYTHON:-python3}")
py="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"  # absolute (CMake runs it from the build folder), links kept (a venv's)
build=${SANITIZE_BUILD:-build/sanitize}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
cmake -S . -B "$build" -DPython_EXECUTABLE="$py" \
    -Dpybind11_DIR="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" -DGRADLIME_CUDA=OFF \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" > "$build.log" 2>&1 ||
    { cat "$build.log"; exit 1; }
cmake --build "$build" -j "$(nproc)"
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
cp -r python/gradlime "$pkg/"
rm -f "$pkg"/gradlime/_core*.so
cp "$build"/_core*.so "$pkg/gradlime/"
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH="$pkg" \
    "$py" -m pytest -s -q -p no:cacheprovider -k "not ctrl_c and not thread_count and not stops_on and not promptly" "$@"
