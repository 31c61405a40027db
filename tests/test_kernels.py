"""UniGrad, the Laplace kernel and smoothed models against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import linear_model, sine_model, within


def test_unigrad_of_a_linear_model_is_its_weights(rng):
    w = np.array([1.0, -2.0, 0.5])
    E = gl.unigrad(linear_model(w), rng.normal(size=(4, 3)), radius=0.7, n_samples=200)
    np.testing.assert_array_equal(E.values, np.tile(w, (4, 1)))
    assert E.method == "unigrad"
    assert E.params["radius"] == 0.7


def test_unigrad_of_a_sine_closed_form(rng):
    # E[cos(a.(x + u))] over the cube [-r, r]^d = cos(a.x) prod_j sin(a_j r) / (a_j r).
    a = np.array([1.0, -0.5, 2.0])
    r = 0.8
    X = rng.normal(size=(5, 3))
    truth = np.cos(X @ a)[:, None] * a * np.prod(np.sin(a * r) / (a * r))
    E = gl.unigrad(sine_model(a), X, radius=r, n_samples=20000, seed=3)
    assert within(E, truth).all()


def test_uniform_draws_fill_the_cube():
    eps = gl._core.noise_rows("uniform", scale=np.array([0.5, 2.0]), seed=1, m=100000)
    assert (np.abs(eps) <= [0.5, 2.0]).all()
    np.testing.assert_allclose(eps.var(axis=0), np.array([0.5, 2.0]) ** 2 / 3, rtol=0.02)
    np.testing.assert_allclose(eps.mean(axis=0), 0.0, atol=0.02)


def test_laplace_draws_have_the_laplace_distribution():
    b = np.array([0.5, 2.0])
    eps = gl._core.noise_rows("laplace", scale=b, seed=2, m=200000)
    np.testing.assert_allclose(np.abs(eps).mean(axis=0), b, rtol=0.01)  # E|z| = b
    np.testing.assert_allclose(eps.var(axis=0), 2 * b**2, rtol=0.02)  # Var = 2 b^2
    # P(|z| > 3b) = exp(-3)
    np.testing.assert_allclose((np.abs(eps) > 3 * b).mean(axis=0), np.exp(-3), rtol=0.05)


def test_smoothed_gaussian_model_gradient_is_smoothgrad(rng):
    a = np.array([1.5, -1.0])
    x = rng.normal(size=2)
    soft = gl.smoothed(sine_model(a), kernel="gaussian", scale=0.6, n_samples=500, seed=4)
    sg = gl.smoothgrad(sine_model(a), x, sigma=0.6, n_samples=500, seed=4)  # the same draws
    np.testing.assert_allclose(soft.gradient(x[None, :])[0], sg.values, rtol=1e-12, atol=1e-13)
    uni = gl.smoothed(sine_model(a), kernel="uniform", scale=0.6, n_samples=500, seed=4)
    ug = gl.unigrad(sine_model(a), x, radius=0.6, n_samples=500, seed=4)
    np.testing.assert_allclose(uni.gradient(x[None, :])[0], ug.values, rtol=1e-12, atol=1e-13)


def test_smoothed_model_is_deterministic_and_its_gradient_is_its_derivative(rng):
    relu_net = gl.Model(
        lambda A: np.maximum(A @ [1.0, -1.0], 0.0),
        grad=lambda A: (A @ [1.0, -1.0] > 0)[:, None] * np.array([1.0, -1.0]),
    )
    soft = gl.smoothed(relu_net, kernel="laplace", scale=0.5, n_samples=4000, seed=1)
    X = rng.normal(size=(3, 2))
    np.testing.assert_array_equal(soft(X), soft(X))
    h = 1e-6
    fd = np.stack([(soft(X + h * e) - soft(X - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    # Common random numbers: f_mu is piecewise linear between kinks of the draws, so the central
    # difference matches the averaged gradient except at a kink.
    np.testing.assert_allclose(soft.gradient(X), fd, atol=1e-3)


def test_smoothed_laplace_sine_closed_form(rng):
    # E[cos(a.(x + z))] with Laplace(b) coordinates = cos(a.x) prod_j 1 / (1 + b^2 a_j^2).
    a = np.array([1.0, 2.0])
    b = 0.4
    x = rng.normal(size=2)
    n = 40000
    soft = gl.smoothed(sine_model(a), kernel="laplace", scale=b, n_samples=n, seed=2)
    truth = np.cos(x @ a) * a * np.prod(1 / (1 + b**2 * a**2))
    eps = gl._core.noise_rows("laplace", scale=np.full(2, b), seed=2, m=n)
    per_sample = np.cos((x + eps) @ a)[:, None] * a
    se = per_sample.std(axis=0) / np.sqrt(n)
    assert (np.abs(soft.gradient(x[None, :])[0] - truth) < 5 * se).all()


def test_explanations_of_a_smoothed_model(rng):
    soft = gl.smoothed(sine_model([1.0, 1.0]), scale=0.3, n_samples=64)
    X = rng.normal(size=(2, 2))
    E = gl.integrated_gradients(soft, X, n_steps=16)
    np.testing.assert_allclose(E.params["completeness_gap"], 0.0, atol=1e-10)
    assert gl.clime(soft, X, n_samples=50).values.shape == (2, 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gl.unigrad(linear_model([1.0, 2.0]), np.zeros(2), radius=0.0),
            "radius must be finite and > 0",
        ),
        (
            lambda: gl.unigrad(linear_model([1.0, 2.0]), np.zeros(2), radius=[1.0]),
            "radius must be a scalar",
        ),
        (lambda: gl.unigrad(lambda A: A[:, 0], np.zeros(2)), "grad="),
        (lambda: gl.smoothed(linear_model([1.0]), kernel="cauchy"), "kernel must be one of"),
        (
            lambda: gl.smoothed(linear_model([1.0]), kernel="laplace", scale=-1.0),
            "scale must be finite and > 0",
        ),
        (
            lambda: gl.smoothed(linear_model([1.0]), kernel="uniform", cov=np.eye(1)),
            "cov= needs the Gaussian",
        ),
        (lambda: gl.smoothed(linear_model([1.0]), n_samples=0), "n_samples must be >= 1"),
    ],
)
def test_bad_kernel_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
