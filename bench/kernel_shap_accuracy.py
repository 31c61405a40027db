"""KernelSHAP's error against exact Shapley values, next to shap's KernelExplainer, at equal budget.

    python bench/kernel_shap_accuracy.py [--points 50] [--repeats 5]

Models: paper 1's network shape with d = 12 and d = 15 inputs (d-10-10-2, ELU, softmax head,
column 1 explained; fixed random weights, bench/native_vs_onnxruntime.py), 50 points X ~ N(0, I),
a 20-row background. Budgets (coalitions per point): 300 and 1000 at d = 12; 500 and 2078 (shap's
default, 2d + 2048) at d = 15. The exact Shapley values: gradlime's exact mode (all 2^d - 2
coalitions). shap runs with l1_reg=False (the full KernelSHAP problem) and np.random seeded
per repeat; gradlime with seed = repeat. Reported: the RMSE over points, features and repeats,
the ratio to shap's, and for gradlime the calibration of its standard errors (the spread of
(estimate - exact) / stderr, 1 when calibrated, below 1 when conservative).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from native_vs_onnxruntime import TARGET, NumpyNet, onnx_bytes, weights

import gradlime as gl

try:
    import shap
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(f"this benchmark needs the shap package: pip install shap ({exc})") from exc

BUDGETS = {12: (300, 1000), 15: (500, 2078)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    print(f"shap {shap.__version__}, gradlime {gl.__version__}\n")
    print("| d | coalitions | explainer | RMSE vs exact | RMSE / shap's | z spread |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for d, budgets in BUDGETS.items():
        layers = weights(0, (d, 10, 10, 2))
        net = NumpyNet(layers, TARGET)
        native = gl.Model.from_onnx(onnx_bytes(layers), target=TARGET)
        rng = np.random.default_rng(1)
        X, bg = rng.normal(size=(a.points, d)), rng.normal(size=(20, d))
        exact = gl.kernel_shap(native, X, baseline=bg, n_samples=2**d).values
        for n in budgets:
            err: dict[str, list[np.ndarray]] = {"shap": [], "regression": [], "kernel": []}
            z: dict[str, list[np.ndarray]] = {"regression": [], "kernel": []}
            for r in range(a.repeats):
                np.random.seed(r)  # noqa: NPY002 - shap draws from the global generator
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    phi = shap.KernelExplainer(net.f, bg).shap_values(
                        X, nsamples=n, l1_reg=False, silent=True
                    )
                err["shap"].append(np.asarray(phi) - exact)
                for est in ("regression", "kernel"):
                    E = gl.kernel_shap(native, X, baseline=bg, n_samples=n, estimator=est, seed=r)
                    err[est].append(E.values - exact)
                    z[est].append((E.values - exact) / E.stderr)
            rmse = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
            for k, label in (
                ("shap", "shap KernelExplainer"),
                ("kernel", 'gl.kernel_shap(estimator="kernel")'),
                ("regression", "gl.kernel_shap (regression-adjusted, default)"),
            ):
                spread = f"{np.std(np.concatenate(z[k])):.2f}" if k in z else ""
                print(
                    f"| {d} | {n} | {label} | {rmse[k]:.3g} | {rmse[k] / rmse['shap']:.2f} | "
                    f"{spread} |"
                )


if __name__ == "__main__":
    main()
