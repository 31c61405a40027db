"""How many samples each scheme needs for plain Monte Carlo's accuracy at n = 1000.

    python bench/sample_efficiency.py [--points 20] [--seeds 10]

Models: paper 1's 15-10-10-2 ELU network (bench/native_vs_onnxruntime.py's weights, class 1, run
natively) and a numpy callable (bench/models.py's tanh network, d = 15, 32 hidden units). Points
X ~ N(0, I), sigma = 1 (paper 1's sigma^2 = 1). The reference per point and estimator: 400,000
independent samples. For each scheme, the RMSE over points, coordinates and seeds against the
reference at n = 250 and n = 1000; the saving is plain MC's mean squared error at n = 1000 over the
scheme's (the 1/n law, which the two n check: the ratio of each scheme's MSE at 250 and 1000 is
printed, 4 when it holds), i.e. how many times fewer samples reach plain MC's error at n = 1000.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from models import TanhNet
from native_vs_onnxruntime import TARGET, onnx_bytes, weights

import gradlime as gl

METHODS = ("smoothgrad", "clime", "stein")
SCHEMES = {"plain": {}, "antithetic": {"antithetic": True}}
REFERENCE = 400_000


def mse(model, X, ref, n, seeds, scheme):
    err = {m: [] for m in METHODS}
    for s in range(seeds):
        E = gl.explain(model, X, sigma=1.0, n_samples=n, seed=1000 + s, **scheme)
        for m in METHODS:
            err[m].append(np.mean((E[m].values - ref) ** 2))
    return {m: float(np.mean(v)) for m, v in err.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=20)
    p.add_argument("--seeds", type=int, default=10)
    a = p.parse_args()
    X = np.random.default_rng(7).normal(size=(a.points, 15))
    tanh = TanhNet(15, 32, seed=3)
    models = {
        "paper-1 15-10-10-2 ELU (native)": gl.Model.from_onnx(
            onnx_bytes(weights(0)), target=TARGET
        ),
        "tanh 15-32-1 (numpy callable)": gl.Model(tanh.f, grad=tanh.grad),
    }
    print(
        "| model | estimator | scheme | RMSE n=250 | RMSE n=1000 | MSE 250/1000 | samples saved |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, model in models.items():
        ref = gl.explain(model, X, sigma=1.0, n_samples=REFERENCE, seed=1)["smoothgrad"].values
        base = None
        for scheme_name, scheme in SCHEMES.items():
            at250 = mse(model, X, ref, 250, a.seeds, scheme)
            at1000 = mse(model, X, ref, 1000, a.seeds, scheme)
            if base is None:
                base = at1000
            for m in METHODS:
                print(
                    f"| {name} | {m} | {scheme_name} | {np.sqrt(at250[m]):.4g} | "
                    f"{np.sqrt(at1000[m]):.4g} | {at250[m] / at1000[m]:.2f} | "
                    f"{base[m] / at1000[m]:.2f}x |"
                )


if __name__ == "__main__":
    main()
