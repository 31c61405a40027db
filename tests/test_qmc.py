"""qmc=: scrambled Sobol' points. The pieces against independent answers (the normal quantile
against erfc, the primitive polynomials against their closed-form count, the nets' t-values
against brute-force counting of elementary intervals, the committed table against a re-run of
its search); the estimators unbiased and their standard errors calibrated over seeds on closed
forms; the same bits over batch sizes, paths, chunks and threads; adaptive stops at whole rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradlime as gl
from closed_forms import A_VEC, SIGMA, X0, sine, sine_truth
from gradlime._core import _testing


def test_the_normal_quantile_inverts_erfc():
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 20001), np.geomspace(2.0**-33, 0.5, 400)])
    z = np.array(_testing.inverse_normal_cdf(list(u)))
    back = np.array([0.5 * math.erfc(-t / math.sqrt(2.0)) for t in z])
    # Phi(z) = u to within Phi's own slope times a few ulps of z
    slope = np.exp(-(z**2) / 2) / math.sqrt(2 * math.pi)
    assert np.all(
        np.abs(back - u) <= 1e-15 * np.maximum(u, 1e-300) + 4e-16 * slope * np.abs(z) + 1e-17
    )
    assert np.all(np.diff(z[:20001]) > 0)
    grid = (np.arange(2**12) + 0.5) / 2**12  # 1 - u exact: Phi^-1(1 - u) = -Phi^-1(u) exactly
    zg = np.array(_testing.inverse_normal_cdf(list(grid)))
    np.testing.assert_array_equal(zg, -zg[::-1])


def _euler_phi(n):
    out, m, p = n, n, 2
    while p * p <= m:
        if m % p == 0:
            while m % p == 0:
                m //= p
            out -= out // p
        p += 1
    return out - out // m if m > 1 else out


def test_primitive_polynomials_are_as_many_as_the_closed_form_says():
    polys = _testing.primitive_polynomials(2000)
    degrees = [p.bit_length() - 1 for p in polys]
    assert polys[:6] == [0b11, 0b111, 0b1011, 0b1101, 0b10011, 0b11001]
    for s in range(1, 11):  # phi(2^s - 1) / s primitive polynomials of degree s
        assert degrees.count(s) == _euler_phi(2**s - 1) // s


def _t_by_counting(P, m):
    """The smallest t such that every elementary interval of volume 2^(t - m) holds 2^t points."""
    for t in range(m + 1):
        q = m - t
        if all(
            np.all(np.bincount((np.floor(P[:, 0] * 2**q1) * 2 ** (q - q1) + np.floor(P[:, 1] * 2 ** (q - q1))).astype(int),
                               minlength=2**q) == 2**t)
            for q1 in range(q + 1)
        ):  # fmt: skip
            return t
    return m


@pytest.mark.parametrize(("a", "b"), [(0, 1), (2, 5), (7, 13), (30, 200), (1500, 2500)])
def test_t_values_match_a_count_of_the_scrambled_points(a, b):
    d = max(a, b) + 1
    U = _testing.qmc_draws(
        seed=3, stream=1, scrambles=1, antithetic=False, first=0, m=1024, d=d, gaussian=False
    )
    for m in (4, 7, 10):
        P = U[: 2**m][:, [a, b]]
        assert _t_by_counting(P, m) == _testing.sobol_t_value(a, b, m)
    # each coordinate alone is a (0, m, 1)-net: one point per interval of 2^-10
    assert np.all(np.sort(np.floor(U * 1024), axis=0) == np.arange(1024)[:, None])


def test_the_committed_table_is_what_its_search_gives():
    dims, candidates, table = _testing.sobol_table()
    assert dims >= 1024
    numbers = _testing.sobol_search(60, candidates)
    assert numbers == table[: len(numbers)]


def test_the_searched_projections_beat_the_first_candidates():
    """Coordinates past the table take the search's first candidate; the table's are better."""
    far = np.mean([_testing.sobol_t_value(k, k + 1, 10) for k in range(5000, 5040)])
    near = np.mean([_testing.sobol_t_value(k, k + 1, 10) for k in range(900, 940)])
    assert near < far


def logistic():
    s = lambda A: 1.0 / (1.0 + np.exp(-(A * A_VEC).sum(axis=1)))
    return gl.Model(s, grad=lambda A: (s(A) * (1 - s(A)))[:, None] * A_VEC)


def logistic_truth(x, sigma):
    # E s'(w.x + |w| sigma z) w, by Gauss-Hermite in one dimension
    t, wts = np.polynomial.hermite_e.hermegauss(200)
    v = A_VEC @ x + np.linalg.norm(A_VEC) * sigma * t
    s = 1 / (1 + np.exp(-v))
    return A_VEC * (wts * s * (1 - s)).sum() / wts.sum()


SEEDS = range(150)


@pytest.mark.parametrize("scheme", [{"qmc": True}, {"qmc": 16, "antithetic": True}])
@pytest.mark.parametrize("case", ["sine", "logistic"])
def test_unbiased_and_calibrated_over_seeds(case, scheme):
    model, truth = (
        (sine(), sine_truth(X0, SIGMA)) if case == "sine" else (logistic(), logistic_truth(X0, 1.5))
    )
    sigma = SIGMA if case == "sine" else 1.5
    runs = [gl.explain(model, X0, sigma=sigma, n_samples=256, seed=s, **scheme) for s in SEEDS]
    for name in ("smoothgrad", "clime", "stein"):
        est = np.array([r[name].values for r in runs])
        se = np.array([r[name].stderr for r in runs])
        spread = est.std(axis=0, ddof=1)
        assert np.all(np.abs(est.mean(axis=0) - truth) < 4 * spread / np.sqrt(len(SEEDS))), name
        # the reported standard error is the spread over seeds, within 25% (R - 1 degrees of freedom)
        np.testing.assert_allclose(np.sqrt(np.mean(se**2, axis=0)), spread, rtol=0.25, err_msg=name)


def test_exact_where_the_points_integrate_exactly():
    """A linear model's gradient is constant: SmoothGrad returns it exactly; a quadratic's is
    linear in e, whose mean over antithetic pairs is 0 exactly."""
    w = np.array([1.0, -2.0, 0.5])
    lin = gl.Model(lambda A: (A * w).sum(axis=1), grad=lambda A: np.broadcast_to(w, A.shape).copy())
    np.testing.assert_array_equal(gl.smoothgrad(lin, X0, n_samples=64, qmc=True).values, w)
    Q = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 0.5], [0.0, 0.0, -1.0]])
    quad = gl.Model(lambda A: np.einsum("mi,ij,mj->m", A, Q, A), grad=lambda A: A @ (Q + Q.T))
    E = gl.smoothgrad(quad, X0, n_samples=64, qmc=True, antithetic=True)
    np.testing.assert_allclose(E.values, (Q + Q.T) @ X0, rtol=1e-13)


def test_less_error_than_monte_carlo_on_a_smooth_model():
    truth = sine_truth(X0, SIGMA)
    err = {}
    for name, kw in (("mc", {}), ("qmc", {"qmc": True})):
        runs = [
            gl.explain(sine(), X0, sigma=SIGMA, n_samples=1024, seed=s, **kw) for s in range(40)
        ]
        err[name] = {k: np.mean([(r[k].values - truth) ** 2 for r in runs]) for k in runs[0]}
    for k in ("smoothgrad", "stein", "clime"):
        assert err["qmc"][k] < 0.25 * err["mc"][k], k


def test_the_uniform_cube():
    """UniGrad with scrambled points: E over the cube of cos(x + e) = cos(x) sin(r) / r."""
    m = gl.Model(lambda A: np.sin(A[:, 0]), grad=lambda A: np.cos(A[:, :1]))
    est = np.array(
        [
            gl.unigrad(m, [0.4], radius=1.0, n_samples=128, qmc=True, seed=s).values[0]
            for s in range(60)
        ]
    )
    assert abs(est.mean() - np.cos(0.4) * np.sin(1.0)) < 4 * est.std(ddof=1) / np.sqrt(60)
    U = gl.smoothed(m, kernel="uniform", scale=1.0, n_samples=64, qmc=True)
    assert abs(U.gradient(np.array([[0.4]]))[0, 0] - np.cos(0.4) * np.sin(1.0)) < 3e-3  # MC: ~0.04


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_the_same_bits_for_every_batch_size(batch_size):
    X = np.stack([X0, -X0])
    for kw in ({"qmc": True}, {"qmc": 4, "antithetic": True}):
        ref = gl.explain(sine(), X, n_samples=160, seed=5, **kw)
        m = gl.Model(sine().f, grad=sine().grad, batch_size=batch_size)
        got = gl.explain(m, X, n_samples=160, seed=5, **kw)
        for name in ref:
            assert got[name].values.tobytes() == ref[name].values.tobytes()
            assert got[name].stderr.tobytes() == ref[name].stderr.tobytes()


@pytest.mark.parametrize("with_gradient", [False, True])
def test_chunks_of_X_and_the_point_alone_have_the_same_bits(with_gradient):
    X = np.random.default_rng(1).normal(size=(6, 3))
    m = sine() if with_gradient else gl.Model(sine().f)
    whole = gl.stein(m, X, n_samples=128, qmc=True, seed=2)
    for i in range(6):  # point i draws from stream i: alone it needs its global index
        alone = gl._core.run(X[i : i + 1], m.f, m.grad, stddev=np.ones(3), stein=True, n_samples=128,
                             seed=2, qmc=8, point_offset=i)["stein"][0]  # fmt: skip
        assert alone[0].tobytes() == whole.values[i].tobytes()


def test_the_points_follow_the_gradient_at_x():
    """With a gradient, each point's Sobol' points are reflected so their first coordinate lies
    along L^T grad f(x). For a ridge function sin(a.x) the mean gradient then depends on that
    coordinate alone, a one-dimensional QMC integral; and Stein's error (same scrambles, with and
    without the model's gradient) falls too."""
    truth = sine_truth(X0, SIGMA)

    def mse(fn, m, **kw):
        runs = [fn(m, X0, sigma=SIGMA, n_samples=256, seed=s, **kw) for s in range(30)]
        return np.mean([(r.values - truth) ** 2 for r in runs])

    assert mse(gl.smoothgrad, sine(), qmc=True) < 0.05 * mse(gl.smoothgrad, sine())
    assert mse(gl.stein, sine(), qmc=True) < 0.7 * mse(gl.stein, gl.Model(sine().f), qmc=True)


def test_adaptive_stops_at_whole_rounds_and_meets_the_tolerance():
    X = np.array([[0.0, 0.0, 0.0], [3.0, -3.0, 1.0]])  # the second is far in sin's flat... wiggles
    for kw in ({"qmc": True}, {"qmc": 8, "antithetic": True}):
        E = gl.explain(sine(), X, sigma=0.3, tol=0.004, max_samples=65_536, seed=1, **kw)
        for name, e in E.items():
            used = np.asarray(e.samples_per_point)
            assert np.all(used % (16 if kw.get("antithetic") else 8) == 0)
            assert np.all((e.stderr.max(axis=1) <= 0.004) | (used == 65_536)), name


SCHEMES = [
    {"qmc": True},
    {"qmc": 4, "antithetic": True},
    {"qmc": True, "tol": 0.01, "max_samples": 16384},
]


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_the_bits_do_not_depend_on_threads_or_the_path():
    pytest.importorskip("onnx")
    from conftest import explain_digests_by_thread_count

    out = explain_digests_by_thread_count(SCHEMES, 2048)
    assert out["1"] == out["2"]


def test_native_fused_and_batched_paths_agree():
    pytest.importorskip("onnx")
    from onnx_graphs import build_onnx, mlp

    net = gl.Model.from_onnx(
        build_onnx(mlp(d=3, widths=(8, 1), act=("Tanh", {})), 3).SerializeToString()
    )
    X = np.random.default_rng(0).normal(size=(5, 3))
    kw = {
        "stddev": np.full(3, 0.5),
        "smoothgrad": True,
        "clime": True,
        "stein": True,
        "n_samples": 256,
        "seed": 3,
        "qmc": 8,
    }
    fused = gl._core.run(X, **net._engine_args(), **kw)
    batched = gl._core.run(X, **net._engine_args(), **kw, fused_network=False, batch_rows=77)
    for name in ("smoothgrad", "clime", "stein"):
        for a, b in zip(fused[name], batched[name], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_arguments():
    with pytest.raises(
        ValueError, match="qmc must be True, False or a number of independent scrambles"
    ):
        gl.smoothgrad(sine(), X0, qmc=3)
    with pytest.raises(ValueError, match="a multiple of 8; got 1001"):
        gl.stein(sine(), X0, n_samples=1001, qmc=True)
    with pytest.raises(ValueError, match="a multiple of 16; got 1000"):
        gl.stein(sine(), X0, n_samples=1000, qmc=8, antithetic=True)
    assert gl.clime(sine(), X0, n_samples=64, qmc=True).params["qmc"] == 8
    assert "qmc" not in gl.clime(sine(), X0, n_samples=64).params
