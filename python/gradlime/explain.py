"""One pass of perturbations feeding several estimators (paper 1, Theorem 1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _core
from ._validation import (
    as_points,
    as_seed,
    default_batch_rows,
    noise_spec,
    nonnegative_float,
    positive_int,
)
from .models import as_model
from .result import Explanation

__all__ = ["METHODS", "explain"]

METHODS = ("smoothgrad", "clime", "stein")


def _run(
    model: Any,
    X: Any,
    methods: Iterable[str],
    *,
    sigma: Any,
    cov: Any,
    n_samples: Any,
    ridge: Any,
    seed: Any,
    kernel: str = "gaussian",
    scale_name: str = "sigma",
    common_draws: bool = False,
) -> dict[str, Explanation]:
    m = as_model(model)
    wanted = tuple(methods) if not isinstance(methods, str) else (methods,)
    unknown = [name for name in wanted if name not in METHODS]
    if unknown or not wanted:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}; got {wanted!r}")
    points, single = as_points(X)
    d = points.shape[1]
    stddev, full_cov = noise_spec(sigma, cov, d, kernel=kernel, name=scale_name)
    n = positive_int(n_samples, "n_samples", minimum=2)
    if "clime" in wanted and n < d + 2:
        raise ValueError(
            f"clime needs n_samples >= d + 2 = {d + 2} for {d} features (an intercept, d slopes "
            f"and a standard error); got {n}"
        )
    lam = nonnegative_float(ridge, "ridge")
    s = as_seed(seed)
    if "smoothgrad" in wanted and not m.has_gradient:
        raise ValueError(
            f"smoothgrad needs the model's gradient: {m.no_gradient_reason}"
            if m.no_gradient_reason
            else "smoothgrad needs the model's gradient: pass grad= to gl.Model(f, grad=...), "
            "or use gl.clime / gl.stein, which need only values"
        )
    if m.n_features is not None and m.n_features != d:
        raise ValueError(f"X has {d} features but the model takes {m.n_features}")
    batch = m.batch_size or default_batch_rows(d)

    raw = _core.run(
        points,
        **m._engine_args(),
        stddev=stddev,
        cov=full_cov,
        smoothgrad="smoothgrad" in wanted,
        clime="clime" in wanted,
        stein="stein" in wanted,
        n_samples=n,
        ridge=lam,
        seed=s,
        batch_rows=batch,
        kernel=kernel,
        common_draws=common_draws,
    )
    params: dict[str, Any] = {"seed": s, "batch_size": batch}
    if full_cov is not None:
        params["cov"] = full_cov.copy()
    elif stddev is not None:
        params[scale_name] = float(stddev[0]) if np.all(stddev == stddev[0]) else stddev.copy()
    out = {}
    for name in wanted:
        values, stderr = raw[name]
        if single:
            values, stderr = values[0], stderr[0]
        p = dict(params, ridge=lam) if name == "clime" else dict(params)
        out[name] = Explanation(values=values, stderr=stderr, method=name, n_samples=n, params=p)
    return out


def explain(
    model: Any,
    X: Any,
    methods: Iterable[str] = METHODS,
    *,
    sigma: Any = 1.0,
    cov: Any = None,
    n_samples: int = 1000,
    ridge: float = 0.0,
    seed: int = 0,
) -> dict[str, Explanation]:
    """Several Gaussian-neighbourhood estimators from one shared set of perturbations.

    SmoothGrad, C-LIME and the gradient-free (Stein) SmoothGrad estimate the same vector
    E[grad f(a)] = Sigma^-1 cov(a, f(a)), a ~ N(x, Sigma) (paper 1, Theorem 1). One call draws the
    perturbations once and feeds every requested estimator; the draws are the same as each single
    call's with the same seed, so ``explain(...)["clime"]`` equals ``clime(...)`` bit for bit.

    Parameters
    ----------
    model : gl.Model or callable
        ``f(A) -> (m,)`` on float64 arrays (m, d); ``smoothgrad`` also needs ``grad=``.
    X : array_like, shape (N, d) or (d,)
        Points to explain.
    methods : iterable of str
        Any of ``"smoothgrad"``, ``"clime"``, ``"stein"``.
    sigma : float or array_like (d,)
        Standard deviation of the Gaussian perturbations (per feature if a vector).
    cov : array_like (d, d), optional
        A full covariance for the perturbations; overrides ``sigma``.
    n_samples : int
        Perturbations per point.
    ridge : float
        L2 penalty of C-LIME on the mean squared loss (paper 1, Appendix D).
    seed : int
        Seed of the counter-based generator; results are bitwise reproducible from it.

    Returns
    -------
    dict[str, Explanation]

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> f = lambda A: np.sin(A).sum(axis=1)
    >>> model = gl.Model(f, grad=np.cos)
    >>> E = gl.explain(model, np.zeros((3, 2)), n_samples=4000, sigma=0.5)
    >>> sorted(E)
    ['clime', 'smoothgrad', 'stein']
    >>> bool(np.allclose(E["smoothgrad"].values, np.exp(-0.125), atol=0.02))
    True
    """
    return _run(
        model, X, methods, sigma=sigma, cov=cov, n_samples=n_samples, ridge=ridge, seed=seed
    )
