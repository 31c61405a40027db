"""pytest-benchmark suite for the native ONNX engine (paper 1's 15-10-10-2 ELU network).

    pip install ".[bench]"
    python -m pytest bench/test_bench_native.py --benchmark-group-by=group

Each group times the native engine beside the same model as a numpy callable (and through
onnxruntime where that can run), and checks agreement after timing.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from native_vs_onnxruntime import NumpyNet, onnx_bytes, onnxruntime_model, weights

import gradlime as gl

N_POINTS, N_SAMPLES, TARGET = 200, 1000, 1
LAYERS = weights(0)
DATA = onnx_bytes(LAYERS)
X = np.random.default_rng(1).normal(size=(N_POINTS, 15))
MODELS = {
    "native": gl.Model.from_onnx(DATA, target=TARGET),
    "numpy": gl.Model(NumpyNet(LAYERS, TARGET).f, grad=NumpyNet(LAYERS, TARGET).grad),
    "onnxruntime": onnxruntime_model(DATA, TARGET),
}


@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein"])
@pytest.mark.parametrize("engine", ["native", "numpy", "onnxruntime"])
def test_paper1_network(benchmark, method, engine):
    if method == "smoothgrad" and engine == "onnxruntime":
        pytest.skip("onnxruntime gives no gradient")
    benchmark.group = f"{method}: 15-10-10-2 ELU net, 200 points x 1000 samples"
    fn = getattr(gl, method)
    E = benchmark(fn, MODELS[engine], X, sigma=0.5, n_samples=N_SAMPLES)
    benchmark.extra_info["evals_per_s"] = N_POINTS * N_SAMPLES / benchmark.stats.stats.mean
    ref = fn(MODELS["numpy"], X, sigma=0.5, n_samples=N_SAMPLES)
    # Same draws, same float32 network: agreement to float32 rounding, far inside the stderr.
    assert np.abs(E.values - ref.values).max() < 1e-3 * max(1.0, np.abs(ref.values).max())
    assert (np.abs(E.values - ref.values) <= ref.stderr + 1e-7).all()


# The rest of the family on the same network: the native engine beside the numpy callable, on
# the same masks, coalitions and path points (agreement to float32 rounding checked after timing).
FAMILY = {
    "lime": (lambda m: gl.lime(m, X[:50], n_samples=N_SAMPLES, seed=0), "50 points x 1000 samples"),
    "kernel_shap": (
        lambda m: gl.kernel_shap(m, X[:50], baseline=X[-20:], n_samples=2078, seed=0),
        "50 points, 20 background rows, 2078 coalitions",
    ),
    "integrated_gradients": (
        lambda m: gl.integrated_gradients(m, X, n_steps=50),
        "200 points, 50 Gauss-Legendre steps",
    ),
}


@pytest.mark.parametrize("method", list(FAMILY))
@pytest.mark.parametrize("engine", ["native", "numpy"])
def test_paper1_network_family(benchmark, method, engine):
    run, what = FAMILY[method]
    benchmark.group = f"{method}: 15-10-10-2 ELU net, {what}"
    E = benchmark(run, MODELS[engine])
    ref = run(MODELS["numpy"])
    assert np.abs(E.values - ref.values).max() < 1e-5 * max(1.0, np.abs(ref.values).max())
