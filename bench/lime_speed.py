"""gl.lime's time at small d, for comparing two builds side by side.

    for build in OLD NEW; do PYTHONPATH=$build/python python bench/lime_speed.py $build; done

Paper 1's 15-10-10-2 ELU network as native ONNX (200 points, 1000 and 5000 samples) and a tanh
callable at d = 64 (20 points, 2000 samples); best of 7 (3 for the longest), milliseconds.
"""

from __future__ import annotations

import sys

import numpy as np
from large_d_fits import best
from native_vs_onnxruntime import TARGET, onnx_bytes, weights

import gradlime as gl


def main() -> None:
    native = gl.Model.from_onnx(onnx_bytes(weights(0)), target=TARGET)
    X = np.random.default_rng(1).normal(size=(200, 15))
    w = np.random.default_rng(2).normal(size=64)
    Xb = np.random.default_rng(3).normal(size=(20, 64))
    runs = {
        "d=15 native 200x1000": lambda: gl.lime(native, X, n_samples=1000),
        "d=64 callable 20x2000": lambda: gl.lime(lambda A: np.tanh(A @ w), Xb, n_samples=2000),
        "d=15 native 200x5000": lambda: gl.lime(native, X, n_samples=5000),
    }
    label = sys.argv[1] if len(sys.argv) > 1 else gl.__file__
    times = [f"{k} {1e3 * best(fn, 3 if '5000' in k else 7):.1f} ms" for k, fn in runs.items()]
    print(f"{label}: " + "; ".join(times))


if __name__ == "__main__":
    main()
