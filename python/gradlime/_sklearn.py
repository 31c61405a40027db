"""scikit-learn models the native network runs, with exact gradients: MLPRegressor,
MLPClassifier, LogisticRegression and the linear regressors, alone or after StandardScaler steps
in a Pipeline (folded into the first layer). Their layers are written in the ONNX parser's form,
("dense", W (out, in), b) and ("act", kind, alpha, gamma), so gl.theory reads them too."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NotNative", "layers_of"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": None}
_LINEAR = {
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "Lars",
    "LassoLars",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "SGDRegressor",
    "TheilSenRegressor",
    "QuantileRegressor",
}


class NotNative(ValueError):
    """A fitted estimator the native network does not run (predict_proba or predict will)."""


def _act(kind: str) -> list[tuple[Any, ...]]:
    return [("act", kind, 0.0, 0.0)]


def _dense(W: Any, b: Any) -> tuple[Any, ...]:
    return ("dense", np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64).reshape(-1))


def _two_sided(W: np.ndarray, b: np.ndarray) -> tuple[Any, ...]:
    """A one-output logistic layer as predict_proba's two columns: sigmoid(-z), sigmoid(z)."""
    return _dense(np.vstack([-W, W]), np.concatenate([-b, b]))


def _final(est: Any) -> list[tuple[Any, ...]]:
    name = type(est).__name__
    if name in ("MLPRegressor", "MLPClassifier"):
        hidden = _ACTIVATIONS.get(est.activation)
        if est.activation not in _ACTIVATIONS:
            raise NotNative(f"{name} with activation {est.activation!r}")
        if name == "MLPRegressor" and est.out_activation_ != "identity":
            raise NotNative(f"MLPRegressor with output activation {est.out_activation_!r}")
        out: list[tuple[Any, ...]] = []
        n = len(est.coefs_)
        for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
            W, b = np.asarray(W, dtype=np.float64).T, np.asarray(b, dtype=np.float64)
            last = i == n - 1
            if (
                last
                and name == "MLPClassifier"
                and est.out_activation_ == "logistic"
                and len(b) == 1
            ):
                out.append(_two_sided(W, b))
            else:
                out.append(_dense(W, b))
            if not last and hidden is not None:
                out += _act(hidden)
        if name == "MLPClassifier":
            out += _act("softmax" if est.out_activation_ == "softmax" else "sigmoid")
        return out
    if name == "LogisticRegression":
        W, b = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
        if getattr(est, "multi_class", "auto") == "ovr" and len(b) > 1:
            raise NotNative("LogisticRegression with multi_class='ovr' (normalised sigmoids)")
        if len(b) == 1:
            return [_two_sided(W, b), *_act("sigmoid")]
        return [_dense(W, b), *_act("softmax")]
    if name in _LINEAR:
        W = np.atleast_2d(est.coef_)
        return [_dense(W, np.broadcast_to(np.atleast_1d(est.intercept_), (len(W),)))]
    raise NotNative(f"the native engine does not run {name}")


def _scaler(step: Any) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) of a StandardScaler: x' = (x - shift) / scale."""
    if type(step).__name__ != "StandardScaler":
        raise NotNative(f"a Pipeline step {type(step).__name__} (only StandardScaler is folded)")
    d = int(step.n_features_in_)
    shift = step.mean_ if step.with_mean else np.zeros(d)
    scale = step.scale_ if step.with_std else np.ones(d)
    return np.asarray(shift, dtype=np.float64), np.asarray(scale, dtype=np.float64)


def layers_of(estimator: Any) -> list[tuple[Any, ...]]:
    """The native layers of a fitted estimator (NotNative when it has none)."""
    steps = list(getattr(estimator, "steps", [("model", estimator)]))
    final = steps[-1][1]
    layers = _final(final)
    shift, scale = np.zeros(0), np.zeros(0)
    for _, step in reversed(steps[:-1]):  # folded from the last scaler back: W (x - m) / s
        m, s = _scaler(step)
        shift, scale = (m, s) if shift.size == 0 else (m + s * shift, s * scale)
    if shift.size:
        _, W, b = layers[0]
        layers[0] = ("dense", W / scale, b - (W / scale) @ shift)
    return layers
