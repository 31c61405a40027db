"""The quadrature rules of Integrated Gradients: Gauss-Legendre nodes and weights against numpy's
leggauss and against exact integrals."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradlime as gl
from gradlime._quadrature import quadrature


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 20, 50, 101])
def test_gauss_legendre_agrees_with_numpys_leggauss(n):
    alpha, w = quadrature(n, "gauss_legendre")
    t, v = np.polynomial.legendre.leggauss(n)
    np.testing.assert_allclose(alpha, (t + 1) / 2, rtol=0, atol=2e-16)
    np.testing.assert_allclose(w, v / 2, rtol=1e-11)  # leggauss's own end weights are off by ~1e-12
    assert np.all(np.diff(alpha) > 0)


@pytest.mark.parametrize("n", [5, 64, 333])
def test_gauss_legendre_integrates_polynomials_of_degree_2n_minus_1_exactly(n):
    alpha, w = quadrature(n, "gauss_legendre")
    # int_0^1 P_j(2a - 1) da = [j == 0]: Legendre polynomials up to degree 2n - 1 (monomials that
    # high would lose the answer to cancellation, not to the rule)
    basis = np.polynomial.legendre.legvander(2 * alpha - 1, 2 * n - 1)
    np.testing.assert_allclose(w @ basis, np.eye(2 * n)[0], atol=2e-14)


def test_thousands_of_nodes_cost_quadratic_time_and_linear_memory():
    """6000 nodes (leggauss: 29 s and a 6000 x 6000 matrix): exp's integral to 1e-15."""
    alpha, w = quadrature(6000, "gauss_legendre")
    assert alpha.shape == w.shape == (6000,)
    assert abs(w @ np.exp(alpha) - (math.e - 1)) < 1e-14
    np.testing.assert_array_equal(alpha + alpha[::-1], 1.0)  # symmetric about 1/2, exactly
    np.testing.assert_array_equal(w, w[::-1])


def test_integrated_gradients_with_more_nodes_than_a_batch_has_rows():
    """The nodes go in blocks of one batch: the answer does not depend on the batch size."""
    a = np.array([1.0, -0.5, 2.0])
    X = np.array([[0.3, 0.2, -0.4], [1.0, 1.0, 1.0]])
    model = gl.Model(
        lambda A: np.sin(A @ a), grad=lambda A: np.cos(A @ a)[:, None] * a, batch_size=64
    )
    E = gl.integrated_gradients(model, X, n_steps=1000)
    t = X @ a
    np.testing.assert_allclose(E.values, X * a * (np.sin(t) / t)[:, None], rtol=1e-13)
    whole = gl.integrated_gradients(gl.Model(model.f, grad=model.grad), X, n_steps=1000)
    np.testing.assert_allclose(E.values, whole.values, rtol=1e-14)
