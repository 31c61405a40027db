"""Closed forms every Gaussian-neighbourhood estimator must reproduce (DESIGN.md, paper 1 Thm 1)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import gradlime as gl
from conftest import Recorder, linear_model, sine_model, sine_smoothgrad, within

METHODS = ("smoothgrad", "clime", "stein")


def test_linear_model_returns_its_weights(rng):
    w = np.array([1.5, -2.0, 0.25, 4.0])
    X = rng.normal(size=(5, 4))
    E = gl.explain(linear_model(w, b=3.0), X, sigma=0.7, n_samples=300, seed=3)
    # The gradient is constant: SmoothGrad is exact, with zero spread.
    np.testing.assert_array_equal(E["smoothgrad"].values, np.tile(w, (5, 1)))
    np.testing.assert_array_equal(E["smoothgrad"].stderr, 0.0)
    # An exact linear fit: C-LIME recovers w to rounding, and its residuals (stderr) vanish.
    np.testing.assert_allclose(E["clime"].values, np.tile(w, (5, 1)), rtol=0, atol=1e-12)
    assert E["clime"].stderr.max() < 1e-12
    # Stein is unbiased but noisy even for a linear f.
    assert within(E["stein"], w).all()
    assert E["stein"].stderr.min() > 0


@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_sine_matches_gaussian_smoothing(rng, sigma):
    a = np.array([1.0, -0.5, 2.0])
    X = rng.normal(size=(6, 3))
    truth = sine_smoothgrad(a, X, sigma**2 * np.eye(3))
    E = gl.explain(sine_model(a), X, sigma=sigma, n_samples=6000, seed=11)
    for name in METHODS:
        assert within(E[name], truth).all(), name
    # The smoothing really happened: at sigma = 1 the answer is far from the plain gradient.
    if sigma == 1.0:
        plain = np.cos(X @ a)[:, None] * a
        assert np.abs(E["smoothgrad"].values - plain).max() > 0.5


def test_quadratic_form(rng):
    A = np.array([[2.0, 1.0, 0.0], [-1.0, 0.5, 3.0], [0.0, 0.0, -1.0]])
    model = gl.Model(lambda Z: np.einsum("mi,ij,mj->m", Z, A, Z), grad=lambda Z: Z @ (A + A.T))
    X = rng.normal(size=(4, 3))
    truth = X @ (A + A.T)  # row i: (A + A^T) x_i
    E = gl.explain(model, X, sigma=0.5, n_samples=5000, seed=2)
    for name in METHODS:
        assert within(E[name], truth).all(), name


def test_logistic_matches_gauss_hermite(rng):
    w, b, sigma = np.array([2.0, -1.0, 0.5]), 0.3, 0.8

    def s(t):
        return 1.0 / (1.0 + np.exp(-t))

    model = gl.Model(
        lambda A: s(A @ w + b), grad=lambda A: (s(A @ w + b) * (1 - s(A @ w + b)))[:, None] * w
    )
    X = rng.normal(size=(5, 3))
    # SmoothGrad = w E[s'(w.x + b + |w| sigma z)], z ~ N(0, 1): a 1-D Gauss-Hermite integral.
    z, weights = hermegauss(80)
    t = (X @ w + b)[:, None] + np.linalg.norm(w) * sigma * z[None, :]
    expected = (s(t) * (1 - s(t))) @ weights / np.sqrt(2 * np.pi)
    truth = expected[:, None] * w
    E = gl.explain(model, X, sigma=sigma, n_samples=8000, seed=5)
    for name in METHODS:
        assert within(E[name], truth).all(), name


def test_full_covariance(rng):
    cov = np.array([[1.0, 0.6, -0.2], [0.6, 0.8, 0.1], [-0.2, 0.1, 0.5]])
    a = np.array([1.0, 1.0, -1.0])
    X = rng.normal(size=(4, 3))
    truth = sine_smoothgrad(a, X, cov)
    E = gl.explain(sine_model(a), X, cov=cov, n_samples=8000, seed=9)
    for name in METHODS:
        assert within(E[name], truth).all(), name
    # A linear model under correlated noise is still returned exactly by SmoothGrad, C-LIME.
    w = np.array([0.5, -1.0, 2.0])
    L = gl.explain(linear_model(w), X, cov=cov, n_samples=100, methods=("smoothgrad", "clime"))
    np.testing.assert_array_equal(L["smoothgrad"].values, np.tile(w, (4, 1)))
    np.testing.assert_allclose(L["clime"].values, np.tile(w, (4, 1)), atol=1e-12)


@pytest.mark.parametrize(
    ("sigma", "cov"),
    [
        (0.5, None),
        (np.array([0.2, 1.0, 3.0]), None),
        (None, [[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]]),
    ],
)
def test_perturbations_have_the_requested_distribution(sigma, cov):
    rec = Recorder(lambda A: A[:, 0])
    x = np.array([1.0, -2.0, 0.5])
    kw = {"cov": cov} if cov is not None else {"sigma": sigma}
    gl.clime(rec, x, n_samples=40000, seed=1, **kw)
    eps = rec.perturbations(x) - x
    target = np.asarray(cov) if cov is not None else np.diag(np.broadcast_to(sigma, 3) ** 2)
    assert (np.abs(eps.mean(axis=0)) <= 5 * np.sqrt(np.diag(target) / 40000)).all()
    # The sample covariance's entries have sd about sqrt((s_ii s_jj + s_ij^2) / n).
    sd = np.sqrt((np.outer(np.diag(target), np.diag(target)) + target**2) / 40000)
    assert (np.abs(np.cov(eps.T) - target) <= 5 * sd).all()


def test_clime_and_stein_against_brute_force(rng):
    """Re-derive C-LIME (ridge, HC1 stderr) and Stein in numpy from the very rows the model saw."""
    x = rng.normal(size=3)
    sigma, ridge, n = 0.6, 0.05, 500

    def f(A):
        return np.tanh(A @ [1.0, -2.0, 0.5]) + 0.3 * A[:, 0] ** 2

    rec = Recorder(f)
    E = gl.explain(
        rec, x, methods=("clime", "stein"), sigma=sigma, ridge=ridge, n_samples=n, seed=4
    )
    A = rec.perturbations(x)
    assert A.shape == (n, 3)
    e, y = A - x, f(A)
    ec, yc = e - e.mean(axis=0), y - y.mean()
    M = ec.T @ ec + n * ridge * np.eye(3)
    w = np.linalg.solve(M, ec.T @ yc)
    np.testing.assert_allclose(E["clime"].values, w, rtol=1e-10)
    r = yc - ec @ w
    Minv = np.linalg.inv(M)
    V = Minv @ (ec.T * r**2) @ ec @ Minv * n / (n - 3 - 1)
    np.testing.assert_allclose(E["clime"].stderr, np.sqrt(np.diag(V)), rtol=1e-8)
    u = e / sigma**2 * yc[:, None]
    np.testing.assert_allclose(E["stein"].values, u.sum(axis=0) / (n - 1), rtol=1e-10)
    np.testing.assert_allclose(
        E["stein"].stderr, u.std(axis=0, ddof=1) / np.sqrt(n) * n / (n - 1), rtol=1e-8
    )


@pytest.mark.parametrize("noise", ["isotropic", "diagonal", "full"])
@pytest.mark.parametrize("d", [5, 20])
def test_clime_against_brute_force_for_every_covariance(rng, noise, d):
    """C-LIME's sums run in z space over chunks of 2048 samples (lanes, panels of 16 features);
    the fit must still be numpy's least squares on the rows the model saw: three chunks and a
    ragged tail, several panels at d = 20, every kind of covariance, a ridge."""
    x = rng.normal(size=d)
    n, ridge = 2 * 2048 + 13, 0.01
    B = rng.normal(size=(d, d))
    kw = {
        "isotropic": {"sigma": 0.4},
        "diagonal": {"sigma": np.linspace(0.1, 1.0, d)},
        "full": {"cov": B @ B.T / d + 0.1 * np.eye(d)},
    }[noise]
    a = np.linspace(-1.0, 1.0, d)

    def f(A):
        return 50.0 + np.tanh(A @ a) + 0.2 * A[:, 0] * A[:, -1]  # an offset: centring matters

    rec = Recorder(f)
    E = gl.clime(rec, x, ridge=ridge, n_samples=n, seed=9, **kw)
    A = rec.perturbations(x)
    e, y = A - x, f(A)
    ec, yc = e - e.mean(axis=0), y - y.mean()
    M = ec.T @ ec + n * ridge * np.eye(d)
    w = np.linalg.solve(M, ec.T @ yc)
    np.testing.assert_allclose(E.values, w, rtol=1e-9, atol=1e-12 * np.abs(w).max())
    r = yc - ec @ w
    Minv = np.linalg.inv(M)
    V = Minv @ (ec.T * r**2) @ ec @ Minv * n / (n - d - 1)
    np.testing.assert_allclose(E.stderr, np.sqrt(np.diag(V)), rtol=1e-8)


def test_ridge_shrinks_towards_lemma6():
    # Linear f under sigma^2 I: C-LIME with ridge tends to sigma^2 / (sigma^2 + lambda) w (paper 1, Lemma 6).
    w = np.array([1.0, -3.0])
    sigma, lam = 0.5, 0.25
    E = gl.clime(linear_model(w), np.zeros((50, 2)), sigma=sigma, ridge=lam, n_samples=2000, seed=8)
    expected = sigma**2 / (sigma**2 + lam) * w
    np.testing.assert_allclose(E.values.mean(axis=0), expected, rtol=0.01)


def test_smoothgrad_clime_gap_shrinks_with_n(rng):
    """Paper 1, Fig. 2: the L1 distance between SmoothGrad and C-LIME falls as n grows."""
    W1 = rng.normal(size=(4, 16))
    w2 = rng.normal(size=16)

    def f(A):
        return np.tanh(A @ W1) @ w2

    def grad(A):
        H = np.tanh(A @ W1)
        return ((1 - H * H) * w2) @ W1.T

    X = rng.normal(size=(20, 4))
    gaps = []
    for n in (100, 1000, 10000):
        E = gl.explain(
            gl.Model(f, grad=grad), X, methods=("smoothgrad", "clime"), n_samples=n, seed=1
        )
        gaps.append(np.abs(E["smoothgrad"].values - E["clime"].values).sum(axis=1).mean())
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < gaps[0] / 5  # ~1/sqrt(n): a factor 10 expected
