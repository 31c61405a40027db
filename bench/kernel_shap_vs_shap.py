"""gl.kernel_shap side by side with the shap package's KernelExplainer, at equal budget.

    python bench/kernel_shap_vs_shap.py      # prints a markdown table

The model is paper 1's network shape, 15-10-10-2 (ELU hidden layers, softmax head; the output
explained is column 1), with fixed random weights (seed 0; bench/native_vs_onnxruntime.py builds
it). Both explain the same 50 points against the same 20-row background with the same number of
coalitions per point (``nsamples`` = ``n_samples`` = 2d + 2048 = 2078, shap's default), so both
budget 2078 x 20 model rows per point (the "model rows/s" column counts that budget; both
evaluate a coalition drawn twice only once, shap by adding to its weight, gradlime's native path
by copying its value, which has the same bits):

  shap                 shap.KernelExplainer(f, background).shap_values(X, nsamples=2078,
                       l1_reg=False) with f the float32 numpy network (no feature selection, so
                       it solves the same full KernelSHAP problem)
  gradlime numpy       gl.kernel_shap(gl.Model(f), ...) with the same numpy callable
  gradlime native      gl.kernel_shap(gl.Model.from_onnx(bytes), ...): the network in C++, fused
                       with the filling of each coalition's rows

Seconds are the best of `--repeat` runs after a warm-up (shap: one run, it is slow; the native
gradlime call, timed first: the best of at least 20). After
timing, every sampled answer is compared with the exact Shapley values (all 2^15 - 2 coalitions,
gradlime's exact mode on the native network).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from native_vs_onnxruntime import SIZES, TARGET, NumpyNet, onnx_bytes, timed_best, weights

import gradlime as gl

try:
    import shap
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(f"this benchmark needs the shap package: pip install shap ({exc})") from exc


def once(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=50)
    p.add_argument("--background", type=int, default=20)
    p.add_argument("--samples", type=int, default=2 * SIZES[0] + 2048)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OpenMP threads {gl._core.max_threads()}, numpy {np.__version__}, "
        f"shap {shap.__version__}, gradlime {gl.__version__}\n"
    )

    layers = weights(0)
    net = NumpyNet(layers, TARGET)
    native = gl.Model.from_onnx(onnx_bytes(layers), target=TARGET)
    assert native.engine == "native", native.engine
    rng = np.random.default_rng(1)
    X = rng.normal(size=(args.points, SIZES[0]))
    background = rng.normal(size=(args.background, SIZES[0]))
    n = args.samples

    def run_shap():
        explainer = shap.KernelExplainer(net.f, background)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return explainer.shap_values(X, nsamples=n, l1_reg=False, silent=True)

    kw = {"baseline": background, "n_samples": n, "seed": 0}
    # The native call takes milliseconds: timed first (before numpy's BLAS threads, which spin for
    # a while after each call, compete for the cores) and best of at least 20.
    t_native, e_native = timed_best(lambda: gl.kernel_shap(native, X, **kw), max(args.repeat, 20))
    t_shap, phi_shap = once(run_shap)
    t_numpy, e_numpy = timed_best(lambda: gl.kernel_shap(gl.Model(net.f), X, **kw), args.repeat)

    # After timing: the exact Shapley values, all 2^d - 2 coalitions.
    exact = gl.kernel_shap(native, X, baseline=background, n_samples=2 ** SIZES[0]).values
    scale = float(np.sqrt(np.mean(exact**2)))

    def rmse(values) -> float:
        return float(np.sqrt(np.mean((np.asarray(values) - exact) ** 2)))

    rows = n * args.background * args.points
    print(
        f"### KernelSHAP, {'-'.join(map(str, SIZES))} ELU net, softmax head (target {TARGET}), "
        f"{args.points} points, background {args.background} rows, {n} coalitions per point "
        f"({rows:,} model rows)\n"
    )
    print("| explainer | seconds | model rows/s | speed-up vs shap | RMSE vs exact Shapley |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, t, values in (
        ("shap KernelExplainer (numpy f, l1_reg=False)", t_shap, phi_shap),
        ("gl.kernel_shap, numpy f", t_numpy, e_numpy.values),
        ("gl.kernel_shap, native from_onnx", t_native, e_native.values),
    ):
        print(f"| {label} | {t:.3f} | {rows / t:,.0f} | {t_shap / t:.1f}x | {rmse(values):.2e} |")

    z = np.abs(e_native.values - exact) / e_native.stderr
    print(
        f"\ncheck: RMS exact Shapley value {scale:.2e}; gradlime within 4 stderr of exact on "
        f"{100 * np.mean(z <= 4):.1f}% of entries (mean |z| {np.mean(z):.2f}, ~0.80 if "
        f"calibrated); efficiency gap max "
        f"{np.max(np.abs(e_native.values.sum(1) - (e_native.fx - e_native.base_values))):.1e}"
    )
    print(
        f"check: |shap - gradlime| RMS {rmse_between(phi_shap, e_native.values):.2e}, "
        f"vs gradlime's RMS stderr {float(np.sqrt(np.mean(e_native.stderr**2))):.2e}"
    )
    if rmse(phi_shap) > 0.1 * scale or rmse(e_native.values) > 0.1 * scale:
        raise SystemExit("shap and gradlime disagree with the exact Shapley values")


def rmse_between(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


if __name__ == "__main__":
    main()
