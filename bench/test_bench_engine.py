"""pytest-benchmark suite for the engine.

    pip install ".[bench]"
    python -m pytest bench/test_bench_engine.py --benchmark-group-by=group \
        --benchmark-columns=mean,stddev,rounds --benchmark-json=bench.json

Each group times a numpy baseline beside gradlime and checks the result after timing.
"""

from __future__ import annotations

import numpy as np
import pytest
from models import TanhNet, Timed, numpy_smoothgrad

import gradlime as gl

D, HIDDEN, N_POINTS, N_SAMPLES = 32, 64, 64, 1000
NET = TanhNet(D, HIDDEN)
X = np.random.default_rng(1).normal(size=(N_POINTS, D))
MODEL = gl.Model(NET.f, grad=NET.grad)


@pytest.mark.benchmark(group="estimators: 64 points x 1000 samples, d=32")
@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein"])
def test_estimator(benchmark, method):
    fn = getattr(gl, method)
    E = benchmark(fn, MODEL, X, sigma=0.5, n_samples=N_SAMPLES)
    benchmark.extra_info["samples_per_s"] = N_POINTS * N_SAMPLES / benchmark.stats.stats.mean
    assert np.isfinite(E.values).all()


@pytest.mark.benchmark(group="estimators: 64 points x 1000 samples, d=32")
def test_explain_all_three(benchmark):
    E = benchmark(gl.explain, MODEL, X, sigma=0.5, n_samples=N_SAMPLES)
    benchmark.extra_info["samples_per_s"] = N_POINTS * N_SAMPLES / benchmark.stats.stats.mean
    z = np.abs(E["clime"].values - E["smoothgrad"].values) / np.hypot(
        E["clime"].stderr, E["smoothgrad"].stderr
    )
    assert np.median(z) < 2


@pytest.mark.benchmark(group="estimators: 64 points x 1000 samples, d=32")
def test_numpy_smoothgrad_baseline(benchmark):
    out = benchmark(numpy_smoothgrad, NET, X, 0.5, N_SAMPLES, 0, 8192)
    ref = gl.smoothgrad(MODEL, X, sigma=0.5, n_samples=N_SAMPLES)
    assert (np.abs(out - ref.values) < 6 * np.sqrt(2) * ref.stderr + 1e-9).mean() > 0.99


@pytest.mark.benchmark(group="engine overhead: 262144 rows, d=32")
@pytest.mark.parametrize("batch", [1024, 4096, 8192, 16384, 65536])
def test_engine_at_batch_size(benchmark, batch):
    """SmoothGrad over 262144 rows; extra_info has the seconds spent inside the callable in the
    same runs, so the overhead is measured on the same machine state (this box drifts a lot)."""
    grad = Timed(NET.grad)
    model = gl.Model(NET.f, grad=grad, batch_size=batch)
    E = benchmark(gl.smoothgrad, model, np.zeros((4, D)), n_samples=65536)
    runs = grad.rows // (4 * 65536)
    inside = grad.seconds / runs
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["inside_callable_s"] = inside
    benchmark.extra_info["overhead_pct"] = 100 * (mean - inside) / inside
    assert np.isfinite(E.values).all()
