"""Model adapters: plain callables, scikit-learn-like estimators, torch modules."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl


class LogisticEstimator:
    """Duck-types a fitted scikit-learn classifier: predict_proba on (m, d) -> (m, 2)."""

    def __init__(self, w, b):
        self.w, self.b = np.asarray(w, dtype=float), b

    def predict_proba(self, A):
        p = 1.0 / (1.0 + np.exp(-(A @ self.w + self.b)))
        return np.stack([1 - p, p], axis=1)


class Regressor:
    def predict(self, A):
        return A @ [2.0, -1.0]


def test_from_sklearn_explains_the_chosen_class():
    est = LogisticEstimator([1.0, -2.0], 0.5)
    m = gl.Model.from_sklearn(est, target=1)
    assert m.engine == "sklearn"
    assert not m.has_gradient
    X = np.array([[0.2, 0.1], [-1.0, 0.5]])
    np.testing.assert_allclose(m(X), est.predict_proba(X)[:, 1])
    E = gl.clime(m, X, sigma=0.1, n_samples=4000, seed=1)
    # Small sigma: C-LIME approaches the gradient p(1 - p) w.
    p = est.predict_proba(X)[:, 1]
    np.testing.assert_allclose(E.values, (p * (1 - p))[:, None] * est.w, rtol=0.05, atol=0.01)
    with pytest.raises(ValueError, match="scikit-learn estimator has no gradient"):
        gl.smoothgrad(m, X)
    with pytest.raises(ValueError, match="no gradient"):
        m.gradient(X)


def test_from_sklearn_needs_a_target_for_several_outputs():
    m = gl.Model.from_sklearn(LogisticEstimator([1.0], 0.0))
    with pytest.raises(ValueError, match="pass target="):
        m(np.zeros((2, 1)))
    with pytest.raises(ValueError, match="out of range"):
        gl.Model.from_sklearn(LogisticEstimator([1.0], 0.0), target=2)(np.zeros((2, 1)))


def test_from_sklearn_regressor_uses_predict():
    m = gl.Model.from_sklearn(Regressor())
    np.testing.assert_allclose(
        gl.clime(m, np.zeros(2), n_samples=50).values, [2.0, -1.0], atol=1e-12
    )


def test_from_sklearn_rejects_non_estimators():
    with pytest.raises(TypeError, match="neither predict_proba nor predict"):
        gl.Model.from_sklearn(object())


def test_model_call_and_gradient_check_shapes():
    m = gl.Model(lambda A: A.sum(axis=1), grad=lambda A: np.ones_like(A))
    np.testing.assert_array_equal(m(np.ones((3, 2))), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(m.gradient(np.ones((3, 2))), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(m, d\)"):
        m(np.ones(3))
    assert "engine='python'" in repr(m)


def test_from_torch_matches_the_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ELU(), torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1)
    ).double()
    m = gl.Model.from_torch(net, target=2)
    X = np.random.default_rng(0).normal(size=(5, 4))
    with torch.no_grad():
        expected = net(torch.from_numpy(X))[:, 2].numpy()
    np.testing.assert_allclose(m(X), expected, rtol=1e-12)
    # Autograd against central differences.
    h = 1e-6
    fd = np.stack([(m(X + h * e) - m(X - h * e)) / (2 * h) for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(m.gradient(X), fd, rtol=1e-6, atol=1e-9)
    E = gl.explain(m, X, sigma=0.3, n_samples=3000, methods=("smoothgrad", "clime"))
    z = np.abs(E["smoothgrad"].values - E["clime"].values) / np.hypot(
        E["smoothgrad"].stderr, E["clime"].stderr
    )
    assert z.max() < 5
