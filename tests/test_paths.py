"""Grad, Grad x Input and Integrated Gradients against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import linear_model, onnx_net, sine_model


def test_gradient_and_grad_x_input_of_a_linear_model(rng):
    w = np.array([2.0, -1.0, 0.5])
    X = rng.normal(size=(4, 3))
    np.testing.assert_array_equal(gl.gradient(linear_model(w), X).values, np.tile(w, (4, 1)))
    np.testing.assert_array_equal(gl.grad_x_input(linear_model(w), X).values, w * X)
    E = gl.gradient(linear_model(w), X[0])
    assert E.values.shape == (3,)
    assert E.method == "gradient"
    np.testing.assert_array_equal(E.stderr, 0.0)


@pytest.mark.parametrize("rule", ["gauss_legendre", "riemann_trapezoid"])
def test_integrated_gradients_of_a_linear_model(rng, rule):
    w = np.array([2.0, -1.0, 0.5])
    X = rng.normal(size=(5, 3))
    base = rng.normal(size=3)
    E = gl.integrated_gradients(linear_model(w), X, baseline=base, n_steps=3, rule=rule)
    np.testing.assert_allclose(E.values, w * (X - base), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(E.params["completeness_gap"], 0.0, atol=1e-12)


def test_integrated_gradients_of_a_sine_closed_form(rng):
    # f = sin(a.x), baseline 0: phi_i = x_i a_i sin(a.x) / (a.x).
    a = np.array([1.0, -0.5, 2.0])
    X = rng.normal(size=(6, 3))
    t = X @ a
    expected = X * a * (np.sin(t) / t)[:, None]
    E = gl.integrated_gradients(sine_model(a), X, n_steps=20)
    np.testing.assert_allclose(E.values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(E.params["completeness_gap"], 0.0, atol=1e-12)


def test_trapezoid_completeness_gap_shrinks_like_one_over_n_squared(rng):
    a = np.array([1.5, -2.0])
    X = rng.normal(size=(3, 2)) * 2
    gaps = [
        np.abs(
            gl.integrated_gradients(sine_model(a), X, n_steps=n, rule="riemann_trapezoid").params[
                "completeness_gap"
            ]
        ).max()
        for n in (10, 20, 40)
    ]
    assert gaps[0] > gaps[1] > gaps[2] > 0
    np.testing.assert_allclose(gaps[0] / gaps[1], 4.0, rtol=0.1)
    np.testing.assert_allclose(gaps[1] / gaps[2], 4.0, rtol=0.1)


def test_per_point_baselines_and_batching(rng):
    a = np.array([1.0, 2.0])
    X = rng.normal(size=(7, 2))
    B = rng.normal(size=(7, 2))
    one_by_one = np.stack(
        [
            gl.integrated_gradients(sine_model(a), X[i], baseline=B[i], n_steps=8).values
            for i in range(7)
        ]
    )
    m = sine_model(a)
    small = gl.Model(m.f, grad=m.grad, batch_size=5)  # forces path chunks of one point
    E = gl.integrated_gradients(small, X, baseline=B, n_steps=8)
    np.testing.assert_allclose(E.values, one_by_one, rtol=1e-14, atol=1e-14)


def test_native_onnx_model_integrated_gradients():
    model = gl.Model.from_onnx(onnx_net([[1.0], [-2.0]], activations=["Tanh"]))
    X = np.array([[0.3, -0.2], [1.0, 0.5]])
    E = gl.integrated_gradients(model, X, n_steps=32)
    # Completeness holds to float32 precision of the network.
    np.testing.assert_allclose(E.values.sum(axis=1), np.tanh(X @ [1.0, -2.0]), atol=1e-5)


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"baseline": [0.0, 1.0, 2.0]}, ValueError, "baseline must be a scalar or have shape"),
        ({"baseline": [np.nan, 0.0]}, ValueError, "baseline contains NaN"),
        ({"n_steps": 0}, ValueError, "n_steps must be >= 1"),
        ({"n_steps": 2.5}, TypeError, "n_steps must be an integer"),
        ({"rule": "simpson"}, ValueError, "rule must be one of"),
    ],
)
def test_integrated_gradients_bad_input(kw, exc, match):
    with pytest.raises(exc, match=match):
        gl.integrated_gradients(linear_model([1.0, 2.0]), np.zeros((3, 2)), **kw)


def test_gradient_methods_need_a_gradient():
    with pytest.raises(ValueError, match="pass grad="):
        gl.gradient(lambda A: A[:, 0], np.zeros(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        gl.grad_x_input(linear_model([1.0, 2.0]), [np.inf, 0.0])
