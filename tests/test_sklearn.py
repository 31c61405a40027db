"""scikit-learn models run natively: values equal to predict_proba / predict (float32 network),
gradients equal to central finite differences of scikit-learn's own float64 predictions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gradlime as gl

rng = np.random.default_rng(0)
A = rng.normal(size=(300, 4)) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, -2.0, 5.0]
z = A @ [1.0, -0.5, 2.0, 0.3] - 1.5
Y2 = (z > 0).astype(int)
Y3 = np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))
X = A[:6]


def _fit(est, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of short training runs
        return est.fit(A, y)


ESTIMATORS = {
    "mlp-clf-binary-tanh": lambda: _fit(
        MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=300, random_state=0), Y2
    ),
    "mlp-clf-3-relu": lambda: _fit(
        MLPClassifier(hidden_layer_sizes=(8, 6), max_iter=300, random_state=0), Y3
    ),
    "mlp-clf-3-logistic": lambda: _fit(
        MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=300, random_state=0),
        Y3,
    ),
    "mlp-reg-identity": lambda: _fit(
        MLPRegressor(hidden_layer_sizes=(7,), activation="identity", max_iter=300, random_state=0),
        z,
    ),
    "mlp-reg-tanh-2out": lambda: _fit(
        MLPRegressor(hidden_layer_sizes=(7,), activation="tanh", max_iter=300, random_state=0),
        np.c_[z, z**2 / 10],
    ),
    "logistic-binary": lambda: _fit(LogisticRegression(), Y2),
    "logistic-3": lambda: _fit(LogisticRegression(), Y3),
    "linear": lambda: _fit(LinearRegression(), z),
    "ridge-2out": lambda: _fit(Ridge(alpha=2.0), np.c_[z, -z + 1]),
    "pipeline-scaled-mlp": lambda: _fit(
        make_pipeline(
            StandardScaler(),
            StandardScaler(with_mean=False),
            MLPClassifier(hidden_layer_sizes=(6,), max_iter=300, random_state=0),
        ),
        Y3,
    ),
}


def _predict(est):
    return est.predict_proba if hasattr(est, "predict_proba") else est.predict


def _column(out, t):
    out = np.asarray(out, dtype=np.float64)
    return out if out.ndim == 1 else out[:, t]


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_native_values_and_gradients(name):
    est = ESTIMATORS[name]()
    predict = _predict(est)
    k = np.asarray(predict(X[:1])).reshape(1, -1).shape[1]
    for t in range(k):
        m = gl.Model.from_sklearn(est, target=t if k > 1 else None)
        assert m.engine == "native"
        np.testing.assert_allclose(m(X), _column(predict(X), t), rtol=2e-5, atol=2e-6)
        h = 1e-5
        fd = np.empty_like(X)
        for j in range(X.shape[1]):
            e = np.zeros(X.shape[1])
            e[j] = h
            fd[:, j] = (_column(predict(X + e), t) - _column(predict(X - e), t)) / (2 * h)
        np.testing.assert_allclose(m.gradient(X), fd, rtol=1e-3, atol=2e-5)


def test_an_estimator_it_cannot_run_natively():
    est = _fit(RandomForestRegressor(n_estimators=5, random_state=0), z)
    with pytest.raises(ValueError, match=r"cannot run this estimator: .*RandomForestRegressor"):
        gl.Model.from_sklearn(est, engine="native")
    m = gl.Model.from_sklearn(est)
    assert m.engine == "sklearn"
    assert not m.has_gradient
    with pytest.raises(ValueError, match="engine must be"):
        gl.Model.from_sklearn(est, engine="torch")


def test_an_unfitted_estimator():
    with pytest.raises(ValueError, match="MLPRegressor is not fitted"):
        gl.Model.from_sklearn(MLPRegressor())


def test_python_engine_on_request_and_smoothgrad_natively():
    est = ESTIMATORS["logistic-binary"]()
    assert gl.Model.from_sklearn(est, engine="python", target=1).engine == "sklearn"
    m = gl.Model.from_sklearn(est, target=1)
    E = gl.smoothgrad(m, X[:2], sigma=0.1, n_samples=2000)
    C = gl.clime(
        gl.Model.from_sklearn(est, engine="python", target=1), X[:2], sigma=0.1, n_samples=2000
    )
    np.testing.assert_allclose(E.values, C.values, atol=6 * np.max(C.stderr))
