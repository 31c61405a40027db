"""How many samples each scheme needs for plain Monte Carlo's accuracy at n = 1000.

    python bench/sample_efficiency.py [--points 20] [--seeds 10] [--scrambles 2 4 16]

Models: paper 1's 15-10-10-2 ELU network (bench/native_vs_onnxruntime.py's weights, class 1, run
natively) and a numpy callable (bench/models.py's tanh network, d = 15, 32 hidden units). Points
X ~ N(0, I), sigma = 1 (paper 1's sigma^2 = 1). The reference per point: SmoothGrad from 2^19
scrambled Sobol' samples (8 scrambles), whose error is orders of magnitude below any compared
here. For each scheme and estimator, the mean squared error over points, coordinates and seeds
at n = 128 .. 4096; the samples the scheme needs for plain Monte Carlo's error at n = 1000 are
read off by log-log interpolation between those n (no 1/n law assumed: QMC's error falls
faster), and "saved" is 1000 over them. The slope column is the fitted exponent of MSE ~ n^-a.
``--scrambles`` adds QMC with other numbers of scrambles (fewer: larger nets, so less error, but
standard errors with fewer degrees of freedom).
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
SCHEMES = {
    "plain": {},
    "antithetic": {"antithetic": True},
    "qmc": {"qmc": True},
    "qmc + antithetic": {"qmc": True, "antithetic": True},
    # Stein's control variate (the other estimators ignore it: their rows are not printed)
    "stein cv": {"control_variate": True},
    "stein cv + antithetic": {"control_variate": True, "antithetic": True},
    "stein cv + qmc": {"control_variate": True, "qmc": True},
}
LADDER = (128, 256, 512, 1024, 2048, 4096)
BASE_N = 1000
REFERENCE = 2**19


def mse(model, X, ref, n, seeds, scheme):
    err = {m: [] for m in METHODS}
    for s in range(seeds):
        E = gl.explain(model, X, sigma=1.0, n_samples=n, seed=1000 + s, **scheme)
        for m in METHODS:
            err[m].append(np.mean((E[m].values - ref) ** 2))
    return {m: float(np.mean(v)) for m, v in err.items()}


def samples_for(target: float, ns, errs) -> tuple[float, str]:
    """n where the MSE curve (log-log linear between ladder points) meets target."""
    ln, le = np.log(ns), np.log(errs)
    for i in range(len(ns) - 1):
        if le[i] >= np.log(target) >= le[i + 1]:
            t = (np.log(target) - le[i]) / (le[i + 1] - le[i])
            return float(np.exp(ln[i] + t * (ln[i + 1] - ln[i]))), ""
    # outside the ladder: extrapolate along the fitted slope (flagged)
    a, b = np.polyfit(ln, le, 1)
    return float(np.exp((np.log(target) - b) / a)), " (extrapolated)"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=20)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--scrambles", type=int, nargs="*", default=[])
    a = p.parse_args()
    schemes = dict(SCHEMES, **{f"qmc={r}": {"qmc": r} for r in a.scrambles})
    X = np.random.default_rng(7).normal(size=(a.points, 15))
    tanh = TanhNet(15, 32, seed=3)
    models = {
        "paper-1 15-10-10-2 ELU (native)": gl.Model.from_onnx(
            onnx_bytes(weights(0)), target=TARGET
        ),
        "tanh 15-32-1 (numpy callable)": gl.Model(tanh.f, grad=tanh.grad),
    }
    print(
        "| model | estimator | scheme | RMSE n=1024 | MSE slope | samples for MC's n=1000 error | saved |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, model in models.items():
        ref = gl.smoothgrad(model, X, sigma=1.0, n_samples=REFERENCE, qmc=True, seed=1).values
        base = mse(model, X, ref, BASE_N, a.seeds, {})
        for scheme_name, scheme in schemes.items():
            curve = [mse(model, X, ref, n, a.seeds, scheme) for n in LADDER]
            for m in METHODS:
                if scheme.get("control_variate") and m != "stein":
                    continue
                errs = [c[m] for c in curve]
                need, flag = samples_for(base[m], LADDER, errs)
                slope = -np.polyfit(np.log(LADDER), np.log(errs), 1)[0]
                print(
                    f"| {name} | {m} | {scheme_name} | {np.sqrt(errs[3]):.3g} | {slope:.2f} | "
                    f"{need:.0f}{flag} | {BASE_N / need:.2f}x |"
                )


if __name__ == "__main__":
    main()
