"""Deterministic gradient explanations: Grad, Grad x Input and Integrated Gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._labels import labelled
from ._quadrature import check_steps, quadrature
from ._validation import as_points, positive_int, real_array
from .models import Model, as_model, in_batches
from .result import Explanation

__all__ = ["grad_x_input", "gradient", "integrated_gradients"]


def _gradients(m: Model, A: np.ndarray) -> np.ndarray:
    if not m.has_gradient:
        raise ValueError(
            m.no_gradient_reason
            or "this method needs the model's gradient: pass grad= to gl.Model(f, grad=...)"
        )
    return in_batches(m.gradient, m, A)


def _result(
    values: np.ndarray,
    points: np.ndarray,
    single: bool,
    method: str,
    params: dict[str, Any],
    fx: np.ndarray | None = None,
    evaluations: int = 1,
) -> Explanation:
    """The Explanation of a deterministic method, `evaluations` gradients per point."""
    if single:
        values, points = values[0], points[0]
        fx = None if fx is None else fx[0]
    return Explanation(
        values=values,
        stderr=np.zeros_like(values),
        data=points,
        fx=fx,
        method=method,
        n_samples=0,
        params=params,
        samples_per_point=evaluations if single else np.full(len(points), evaluations),
    )


@labelled
def gradient(model: Any, X: Any) -> Explanation:
    """The plain gradient of the model at each point (not sampled: ``stderr`` is zero).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> model = gl.Model(lambda A: A @ [1.0, -2.0], grad=lambda A: np.tile([1.0, -2.0], (len(A), 1)))
    >>> gl.gradient(model, [3.0, 4.0]).values
    array([ 1., -2.])
    """
    m = as_model(model)
    points, single = as_points(X)
    return _result(_gradients(m, points), points, single, "gradient", {})


@labelled
def grad_x_input(model: Any, X: Any) -> Explanation:
    """Gradient times input, element-wise, at each point.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> model = gl.Model(lambda A: A @ [1.0, -2.0], grad=lambda A: np.tile([1.0, -2.0], (len(A), 1)))
    >>> gl.grad_x_input(model, [3.0, 4.0]).values
    array([ 3., -8.])
    """
    m = as_model(model)
    points, single = as_points(X)
    return _result(_gradients(m, points) * points, points, single, "grad_x_input", {})


@labelled
def integrated_gradients(
    model: Any, X: Any, *, baseline: Any = 0.0, n_steps: int = 50, rule: str = "gauss_legendre"
) -> Explanation:
    """Integrated Gradients: (x - x') * integral_0^1 grad f(x' + a (x - x')) da.

    The path integral is a quadrature: ``"gauss_legendre"`` with ``n_steps`` nodes (exact for
    polynomial paths up to degree 2 n_steps - 1) or the trapezoid rule on ``n_steps`` intervals
    (``"riemann_trapezoid"``, n_steps + 1 gradient evaluations). The attributions should add up to
    f(x) - f(x') (completeness); ``fx`` holds f(x), and what is left over is reported per point
    in ``params["completeness_gap"]`` = sum(phi) - (f(x) - f(x')).

    Parameters
    ----------
    baseline : float, array (d,) or array (N, d)
        The reference point x'.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> model = gl.Model(lambda A: (A**2).sum(axis=1), grad=lambda A: 2 * A)
    >>> E = gl.integrated_gradients(model, [1.0, 2.0], n_steps=4)
    >>> E.values  # x_i^2 - x'_i^2
    array([1., 4.])
    >>> abs(float(E.params["completeness_gap"])) < 1e-12
    True
    """
    m = as_model(model)
    points, single = as_points(X)
    N, d = points.shape
    n = positive_int(n_steps, "n_steps")
    check_steps(n, rule)
    base = real_array(baseline, "baseline")
    if base.ndim == 0 or base.shape == (d,) or base.shape == (N, d):
        base = np.broadcast_to(base, (N, d))
    else:
        raise ValueError(
            f"baseline must be a scalar or have shape ({d},) or ({N}, {d}); got {base.shape}"
        )
    if not np.isfinite(base).all():
        raise ValueError("baseline contains NaN or inf")
    alpha, weights = quadrature(n, rule)
    delta = points - base
    # Blocks of points x nodes whose path rows fit one batch, whatever n_steps is.
    rows = m.rows_per_batch(d)
    nodes = min(len(alpha), rows)
    step = max(1, rows // nodes)
    avg = np.zeros_like(points)
    for i in range(0, N, step):
        for k in range(0, len(alpha), nodes):
            a = alpha[k : k + nodes, None]
            path = base[i : i + step, None, :] + a * delta[i : i + step, None, :]
            g = _gradients(m, path.reshape(-1, d)).reshape(path.shape)
            avg[i : i + step] += np.einsum("k,nkd->nd", weights[k : k + nodes], g)
    phi = delta * avg
    fx = in_batches(m, m, points)
    gap = phi.sum(axis=1) - (fx - in_batches(m, m, np.ascontiguousarray(base)))
    params = {
        "baseline": base[0].copy() if single else base.copy(),
        "n_steps": n,
        "rule": rule,
        "completeness_gap": gap[0] if single else gap,
    }
    return _result(phi, points, single, "integrated_gradients", params, fx, len(alpha))
