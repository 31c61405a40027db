"""antithetic=True: perturbations in pairs e, -e. Unbiased on closed forms over many seeds, standard
errors calibrated with the pairs as units, exact where the odd/even split says so, the same bits
on every batch size, and less variance than independent draws where f is nearly linear."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from closed_forms import SIGMA, X0, sine, sine_truth

SEEDS = range(300)


@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein"])
def test_unbiased_and_calibrated_over_seeds(method):
    truth = sine_truth(X0, SIGMA)
    fn = getattr(gl, method)
    est = np.array([fn(sine(), X0, sigma=SIGMA, n_samples=60, antithetic=True, seed=s).values
                    for s in SEEDS])  # fmt: skip
    se = np.array([fn(sine(), X0, sigma=SIGMA, n_samples=60, antithetic=True, seed=s).stderr
                   for s in SEEDS])  # fmt: skip
    spread = est.std(axis=0, ddof=1)
    # unbiased: the mean over seeds within 4 of its own standard errors of the truth
    assert np.all(np.abs(est.mean(axis=0) - truth) < 4 * spread / np.sqrt(len(SEEDS)))
    # calibrated: the reported standard error is the spread over seeds, within 20%
    np.testing.assert_allclose(np.sqrt(np.mean(se**2, axis=0)), spread, rtol=0.2)


def test_clime_of_a_linear_plus_even_function_is_exact():
    """f(x + e) = const + (w + 2x).e + |e|^2: the even part cancels within every pair."""
    w = np.array([1.0, -2.0, 0.5])
    f = lambda A: A @ w + (A**2).sum(axis=1)
    E = gl.clime(f, X0, sigma=0.7, n_samples=40, antithetic=True, seed=3)
    np.testing.assert_allclose(E.values, w + 2 * X0, rtol=1e-12, atol=1e-12)
    iid = gl.clime(f, X0, sigma=0.7, n_samples=40, seed=3)
    assert np.max(np.abs(iid.values - (w + 2 * X0))) > 1e-3


def test_stein_cancels_what_is_even_in_f():
    """Stein's terms e (f(x + e) - mean f): a pair cancels f's even part around x (here a large
    |e|^2), which independent draws carry as noise. f's odd part makes an even term, which a pair
    repeats: for a linear f the pairs gain nothing and, half as many, say so (a stderr about
    sqrt 2 larger)."""
    w = np.array([1.0, -2.0, 0.5])
    bowl = lambda A: A @ w + 50.0 * ((A - X0) ** 2).sum(axis=1)
    anti = gl.stein(bowl, X0, sigma=0.3, n_samples=400, antithetic=True, seed=1)
    iid = gl.stein(bowl, X0, sigma=0.3, n_samples=400, seed=1)
    assert np.all(anti.stderr < 0.1 * iid.stderr)
    assert np.all(np.abs(anti.values - w) < 5 * anti.stderr)
    line = lambda A: A @ w
    ratio = [
        gl.stein(line, X0, sigma=0.3, n_samples=4000, antithetic=True, seed=s).stderr
        / gl.stein(line, X0, sigma=0.3, n_samples=4000, seed=s).stderr
        for s in range(5)
    ]
    np.testing.assert_allclose(np.mean(ratio), np.sqrt(2), rtol=0.1)


def test_less_variance_where_f_is_nearly_linear():
    E_anti = gl.explain(sine(), X0, sigma=0.05, n_samples=2000, antithetic=True, seed=2)
    E_iid = gl.explain(sine(), X0, sigma=0.05, n_samples=2000, seed=2)
    for name in ("smoothgrad", "clime"):  # Stein's gain is in f's even part (above)
        assert np.all(E_anti[name].stderr < 0.2 * E_iid[name].stderr), name


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_the_same_bits_for_every_batch_size(batch_size):
    ref = gl.explain(sine(), np.stack([X0, -X0]), n_samples=130, antithetic=True, seed=5)
    m = gl.Model(sine().f, grad=sine().grad, batch_size=batch_size)
    got = gl.explain(m, np.stack([X0, -X0]), n_samples=130, antithetic=True, seed=5)
    for name in ref:
        assert got[name].values.tobytes() == ref[name].values.tobytes()
        assert got[name].stderr.tobytes() == ref[name].stderr.tobytes()


def test_arguments():
    with pytest.raises(ValueError, match="n_samples must be even; got 11"):
        gl.smoothgrad(sine(), X0, n_samples=11, antithetic=True)
    with pytest.raises(TypeError, match="antithetic must be True or False"):
        gl.clime(sine(), X0, antithetic="yes")
    assert gl.stein(sine(), X0, n_samples=10, antithetic=True).params["antithetic"] is True
    assert "antithetic" not in gl.stein(sine(), X0, n_samples=10).params


def test_the_uniform_cube_and_the_laplace_kernel_take_pairs_too():
    """The mirror of a uniform u is 1 - u: the pair's perturbations are e and -e (to an ulp).
    UniGrad of a quadratic is then its gradient at x in every pair; and it stays unbiased."""
    Q = np.array([[2.0, 1.0], [0.0, 3.0]])
    quad = gl.Model(lambda A: np.einsum("mi,ij,mj->m", A, Q, A), grad=lambda A: A @ (Q + Q.T))
    x = np.array([1.0, -1.0])
    E = gl.unigrad(quad, x, radius=0.5, n_samples=10, antithetic=True)
    np.testing.assert_allclose(E.values, (Q + Q.T) @ x, rtol=1e-13)
    assert E.params["antithetic"] is True
    for kernel in ("uniform", "laplace"):
        eps = gl._core.noise_rows(kernel, scale=np.full(3, 0.7), m=6, antithetic=True)
        np.testing.assert_allclose(eps[1::2], -eps[0::2], rtol=1e-12, atol=1e-15)
    m = gl.Model(lambda A: np.sin(A[:, 0]), grad=lambda A: np.cos(A[:, :1]))
    est = np.array([gl.unigrad(m, [0.4], radius=1.0, n_samples=64, antithetic=True, seed=s).values[0]
                    for s in range(200)])  # fmt: skip
    assert abs(est.mean() - np.cos(0.4) * np.sin(1.0)) < 4 * est.std(ddof=1) / np.sqrt(200)
    soft = gl.smoothed(m, kernel="laplace", scale=0.3, n_samples=64, antithetic=True)
    assert np.isfinite(soft.gradient(np.array([[0.4]]))[0, 0])
