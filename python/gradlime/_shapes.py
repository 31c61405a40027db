"""Inputs of any shape: X of shape (N, ...) (images (N, C, H, W), sequences (N, T, F)) for every
method. The engine works on flat rows (N, d); the model is called on batches in the points' own
shape (m, ...); attributions, standard errors and the points come back in X's shape, as Captum
returns them. Per-feature arguments (a baseline of one point's shape or a background (B, ...), a
per-feature sigma or radius) are flattened the same way.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ._validation import is_frame
from .models import Model, as_model
from .result import Explanation

__all__ = ["PER_FEATURE", "flat_keywords", "flat_model", "point_shape", "unflatten"]

#: Keywords that may hold one value per feature, in one point's shape (with leading axes).
PER_FEATURE = ("baseline", "background", "sigma", "radius", "scale", "feature_mask")


def point_shape(X: Any) -> tuple[int, ...] | None:
    """One point's shape when X is (N, ...) with two or more axes per point; else None (a point
    (d,) and a batch (N, d) are the engine's own layout)."""
    if is_frame(X):
        return None
    shape = np.shape(X)
    return tuple(int(s) for s in shape[1:]) if len(shape) >= 3 else None


def flat_model(model: Any, shape: tuple[int, ...]) -> Model:
    """The model on flat rows (m, d): its callables see (m, *shape), their gradients are
    flattened back. A native model already takes flat rows and is returned as it is."""
    m = as_model(model)
    d = math.prod(shape)
    if m.engine == "native":
        return m

    def rows(A: np.ndarray) -> np.ndarray:
        return A.reshape(len(A), *shape)

    def flat_gradients(out: Any, A: np.ndarray) -> np.ndarray:
        g = np.asarray(out)
        if g.size != A.size:
            raise ValueError(
                f"model grad returned shape {g.shape} for a batch of shape {(len(A), *shape)}; "
                "expected the batch's shape"
            )
        return g.reshape(len(A), d)

    def f(A: np.ndarray) -> Any:
        return m.f(rows(A))

    def grad(A: np.ndarray) -> np.ndarray:
        assert m.grad is not None
        return flat_gradients(m.grad(rows(A)), A)

    flat = Model(f, grad=grad if m.has_gradient else None, batch_size=m.batch_size)
    flat.engine, flat.n_features, flat.no_gradient_reason = m.engine, d, m.no_gradient_reason
    both, sized = m._value_and_grad, m._batch_rows_for
    if both is not None:

        def value_and_grad(A: np.ndarray) -> tuple[Any, np.ndarray]:
            values, g = both(rows(A))
            return values, flat_gradients(g, A)

        flat._value_and_grad = value_and_grad
    if sized is not None:
        flat._batch_rows_for = lambda _: sized(shape)
    return flat


def flat_keywords(kw: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """``kw`` with every per-feature array whose trailing axes are one point's shape flattened."""
    out = dict(kw)
    k = len(shape)
    for name in PER_FEATURE:
        v = out.get(name)
        if v is None or np.ndim(v) < k or tuple(np.shape(v)[np.ndim(v) - k :]) != shape:
            continue
        lead = tuple(np.shape(v)[: np.ndim(v) - k])
        out[name] = np.reshape(np.asarray(v), (*lead, math.prod(shape)))
    return out


def unflatten(E: Explanation, shape: tuple[int, ...]) -> Explanation:
    """E (from flat rows) with its values, stderr and points in the points' shape."""
    n = len(E.values)
    return dataclasses.replace(
        E,
        values=np.reshape(E.values, (n, *shape)),
        stderr=np.reshape(E.stderr, (n, *shape)) if E.stderr is not None else None,
        data=np.reshape(E.data, (n, *shape)) if E.data is not None else None,
    )
