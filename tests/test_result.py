"""Explanation's typed fields: the points explained, f there and the base value, per method."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import gradlime as gl
from gradlime.registry import REGISTRY

W = np.array([1.5, -2.0, 0.5])


def linear_model():
    return gl.Model(lambda A: A @ W + 0.3, grad=lambda A: np.broadcast_to(W, A.shape).copy())


FAST = {"n_samples": 20}
KEYWORDS = {
    name: {k: v for k, v in FAST.items() if k in spec.keywords} for name, spec in REGISTRY.items()
}
# Methods that evaluate f at the points themselves, and those with a base value.
WITH_FX = {"kernel_shap", "integrated_gradients"}
WITH_BASE = {"kernel_shap"}


@pytest.mark.parametrize("name", list(REGISTRY))
@pytest.mark.parametrize("X", [np.arange(6.0).reshape(2, 3) / 4, np.array([0.5, -1.0, 2.0])])
def test_every_method_fills_data_fx_and_base_values(name, X):
    E = REGISTRY[name].function(linear_model(), X, **KEYWORDS[name])
    assert E.method == name
    assert E.data.dtype == np.float64
    np.testing.assert_array_equal(E.data, X)
    assert E.data.shape == E.values.shape == E.stderr.shape == X.shape
    f = X @ W + 0.3
    np.testing.assert_allclose(E.fx, f, rtol=1e-14)
    assert np.shape(E.fx) == np.shape(f)
    # every method: base_values + sum == fx, exactly for methods that define base as the rest
    np.testing.assert_allclose(E.base_values + E.values.sum(-1), E.fx, rtol=1e-12, atol=1e-12)
    assert np.shape(E.base_values) == np.shape(f)
    if name in WITH_BASE:  # KernelSHAP's is the expected value over the background
        np.testing.assert_allclose(E.base_values, np.full(np.shape(f), 0.3), rtol=1e-14)
    if name in ("gradient", "integrated_gradients"):  # linear f: IG sums to f(x) - f(0)
        expected = np.full(np.shape(f), 0.3) if name == "integrated_gradients" else f - W.sum()
        np.testing.assert_allclose(E.base_values, expected, rtol=1e-12, atol=1e-12)


def test_explain_fills_data_for_every_estimator():
    X = np.ones((2, 3))
    for E in gl.explain(linear_model(), X, n_samples=20).values():
        np.testing.assert_array_equal(E.data, X)
        np.testing.assert_allclose(E.fx, X @ W + 0.3, rtol=1e-14)
        np.testing.assert_allclose(E.base_values + E.values.sum(-1), E.fx, rtol=1e-12)


def test_explanation_is_frozen_and_keyword_only():
    E = gl.gradient(linear_model(), [1.0, 2.0, 3.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        E.fx = 1.0
    with pytest.raises(TypeError):
        gl.Explanation(E.values, E.stderr, E.data, "gradient", 0)
    np.testing.assert_array_equal(np.asarray(E), E.values)
