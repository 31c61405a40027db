"""tol=: an adaptive sample size. Each point stops once every attribution's standard error meets
the tolerance (or at the cap), easy points sooner; the result of a stopped point is the fixed-n
result at the count it used; the same bits on every batch size."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl

W = np.array([3.0, -1.0, 0.5])


def steep():
    """tanh(3 a.x): flat far from the plane a.x = 0, steep near it. a.x is summed row by row
    (a BLAS matmul may round a row differently in batches of other shapes)."""

    def dot(A):
        return (A * W).sum(axis=1)

    return gl.Model(
        lambda A: np.tanh(3 * dot(A)),
        grad=lambda A: (3 * (1 - np.tanh(3 * dot(A)) ** 2))[:, None] * W,
    )


X = np.array([[0.05, 0.0, 0.0], [0.2, 0.1, 0.0], [2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]])


@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein", "unigrad"])
def test_each_point_meets_the_tolerance_and_easy_ones_stop_sooner(method):
    fn = getattr(gl, method)
    scale = {"radius": 0.3} if method == "unigrad" else {"sigma": 0.3}
    tol = {"smoothgrad": 0.02, "unigrad": 0.02, "clime": 0.05, "stein": 0.2}[method]
    E = fn(steep(), X, tol=tol, max_samples=200_000, seed=2, **scale)
    used = np.asarray(E.samples_per_point)
    assert np.all(used < 200_000)
    assert np.all(E.stderr.max(axis=1) <= tol)
    assert used[2] < used[0]  # the flat points need fewer samples
    assert used[3] < used[0]
    assert E.params["tol"] == tol
    for i, u in enumerate(used):  # a stopped point is the fixed-n run at its count
        fixed = fn(steep(), X, n_samples=int(u), seed=2, **scale)
        assert fixed.values[i].tobytes() == E.values[i].tobytes()
        assert fixed.stderr[i].tobytes() == E.stderr[i].tobytes()


def test_the_cap_and_the_bits_over_batch_sizes():
    E = gl.smoothgrad(steep(), X, sigma=0.3, tol=1e-9, max_samples=640, seed=1)
    # the steep points cannot meet 1e-9 and stop at the cap; the saturated ones have gradients
    # of exactly 0 and stop at the first look
    assert list(E.samples_per_point) == [640, 640, 128, 128]
    ref = gl.explain(steep(), X, ("smoothgrad", "stein"), sigma=0.3, tol=0.05, seed=3)
    for b in (1, 33, 4096):
        m = gl.Model(steep().f, grad=steep().grad, batch_size=b)
        got = gl.explain(m, X, ("smoothgrad", "stein"), sigma=0.3, tol=0.05, seed=3)
        for k in ref:
            assert got[k].values.tobytes() == ref[k].values.tobytes()
            np.testing.assert_array_equal(got[k].samples_per_point, ref[k].samples_per_point)


def test_antithetic_and_adaptive_together():
    E = gl.smoothgrad(steep(), X, sigma=0.3, tol=0.02, max_samples=100_000, antithetic=True)
    assert np.all(E.stderr.max(axis=1) <= 0.02)
    assert np.all(np.asarray(E.samples_per_point) % 2 == 0)


def test_arguments():
    with pytest.raises(ValueError, match="give tol= with it"):
        gl.smoothgrad(steep(), X, max_samples=100)
    with pytest.raises(ValueError, match="tol"):
        gl.smoothgrad(steep(), X, tol=-1.0)


SCHEMES = [
    {"antithetic": True},
    {"tol": 0.01, "max_samples": 20000},
    {"antithetic": True, "tol": 0.01, "max_samples": 20000},
]


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_antithetic_and_adaptive_bits_do_not_depend_on_threads():
    """Native (fused, one point per thread) and callable (batched) paths, 1 and 2 threads."""
    pytest.importorskip("onnx")
    from conftest import explain_digests_by_thread_count

    out = explain_digests_by_thread_count(SCHEMES, 2000)
    assert out["1"] == out["2"]


def test_lime_stops_each_point_once_its_fit_meets_the_tolerance():
    """LIME's fit is looked at after 128 x 2^k masks; a point near the baseline, where f is
    nearly linear in the masks, stops sooner than one whose masks cross tanh's steep part."""
    E = gl.lime(steep(), X, tol=0.01, max_samples=50_000, baseline=0.0, seed=4)
    used = np.asarray(E.samples_per_point)
    assert all(
        int(u) in (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 50_000) for u in used
    )
    assert np.all(E.stderr[used < 50_000].max(axis=1) <= 0.01)
    assert used[0] < used[2]
    for i, u in enumerate(used):
        fixed = gl.lime(steep(), X, n_samples=int(u), baseline=0.0, seed=4)
        assert fixed.values[i].tobytes() == E.values[i].tobytes()
    for b in (1, 100):
        m = gl.Model(steep().f, batch_size=b)
        got = gl.lime(m, X, tol=0.01, max_samples=50_000, baseline=0.0, seed=4)
        assert got.values.tobytes() == E.values.tobytes()
