"""The one-pass engine call: one stream of perturbations feeding several estimators.

For a Gaussian neighbourhood, smoothgrad (mean gradient), clime (least squares on [1, a - x]) and
stein (Sigma^-1 cov(a, f(a))) estimate the same vector (paper 1, Theorem 1), so the compiled
engine computes any subset of them from one set of draws. ``explain``, the single-method
functions and ``lipschitz`` all reach the engine through ``one_pass``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core, _device, _progress, _streams
from ._validation import (
    adaptive,
    as_points,
    as_seed,
    check_point_memory,
    noise_spec,
    nonnegative_float,
    positive_int,
    qmc_scrambles,
)
from .models import as_model
from .result import Explanation

__all__ = ["ESTIMATORS", "one_pass"]

#: The estimators the engine computes in one pass.
ESTIMATORS = ("smoothgrad", "clime", "stein")


def one_pass(
    model: Any,
    X: Any,
    estimators: Sequence[str],
    *,
    kernel: str = "gaussian",
    scale: Any,
    cov: Any = None,
    n_samples: Any,
    ridge: Any = 0.0,
    antithetic: Any = False,
    qmc: Any = False,
    control_variate: Any = False,
    tol: Any = None,
    max_samples: Any = None,
    seed: Any,
    scale_name: str = "sigma",
    common_draws: bool = False,
    device: Any = None,
) -> dict[str, Explanation]:
    """Explanations of X by each of ``estimators``, from one shared set of draws.

    ``kernel`` is the neighbourhood ("gaussian", or "uniform": the cube of half-width
    ``scale``); ``scale`` is the standard deviation or half-width, a scalar or one per feature,
    and ``cov`` a full covariance that overrides it (Gaussian only). ``scale_name`` names the
    scale in errors and in ``params``. With ``common_draws`` every point reuses the draws of
    stream 0 (lipschitz: x and its neighbours see the same perturbations); otherwise point i
    draws from stream i. ``device`` (None, "cpu", "cuda", "cuda:N"): where they run
    (_device.py). Returns one Explanation per estimator, keyed and labelled by it.
    """
    if not estimators or any(name not in ESTIMATORS for name in estimators):
        raise ValueError(f"estimators must be a non-empty subset of {ESTIMATORS}; got {estimators}")
    m = as_model(model)
    points, single = as_points(X)
    d = points.shape[1]
    stddev, full_cov = noise_spec(scale, cov, d, kernel=kernel, name=scale_name)
    n = positive_int(n_samples, "n_samples", minimum=2)
    if "clime" in estimators and n < d + 2:
        raise ValueError(
            f"clime needs n_samples >= d + 2 = {d + 2} for {d} features (an intercept, d slopes "
            f"and a standard error); got {n}"
        )
    lam = nonnegative_float(ridge, "ridge")
    if not isinstance(antithetic, (bool, np.bool_)):
        raise TypeError(f"antithetic must be True or False; got {antithetic!r}")
    scrambles = qmc_scrambles(qmc)
    if not isinstance(control_variate, (bool, np.bool_)):
        raise TypeError(f"control_variate must be True or False; got {control_variate!r}")
    stop_tol, n = adaptive(tol, max_samples, n)
    if antithetic and n % 2:
        raise ValueError(f"antithetic draws come in pairs: n_samples must be even; got {n}")
    for name in ("clime", "stein"):
        if name in estimators:
            check_point_memory(name, d, n)
    s = as_seed(seed)
    if "smoothgrad" in estimators and not m.has_gradient:
        raise ValueError(
            f"smoothgrad needs the model's gradient: {m.no_gradient_reason}"
            if m.no_gradient_reason
            else "smoothgrad needs the model's gradient: pass grad= to gl.Model(f, grad=...), "
            "or use gl.clime / gl.stein, which need only values"
        )
    if m.n_features is not None and m.n_features != d:
        raise ValueError(f"X has {d} features but the model takes {m.n_features}")
    batch = m.rows_per_batch(d)
    where = _device.resolve(device, m)
    raw = _core.run(
        points,
        **m._engine_args(),
        value_and_grad=m._value_and_grad if m._network is None else None,
        progress=_progress.callback(),
        stddev=stddev,
        cov=full_cov,
        smoothgrad="smoothgrad" in estimators,
        clime="clime" in estimators,
        stein="stein" in estimators,
        n_samples=n,
        ridge=lam,
        seed=s,
        batch_rows=batch,
        kernel=kernel,
        common_draws=common_draws,
        antithetic=bool(antithetic),
        qmc=scrambles,
        stein_cv=bool(control_variate) and "stein" in estimators,
        stop_tol=stop_tol,
        point_offset=_streams.offset(),
        device=where,
    )
    params: dict[str, Any] = {"seed": s, "batch_size": batch}
    if device is not None:
        params["device"] = device
    if antithetic:
        params["antithetic"] = True
    if scrambles:
        params["qmc"] = scrambles
    if tol is not None:
        params["tol"] = stop_tol
    if full_cov is not None:
        params["cov"] = full_cov.copy()
    elif stddev is not None:
        params[scale_name] = float(stddev[0]) if np.all(stddev == stddev[0]) else stddev.copy()
    data = points[0] if single else points
    out = {}
    for name in estimators:
        values, stderr = raw[name]
        _check_estimate(name, values, stderr, scale_name if full_cov is None else "cov")
        samples: np.ndarray | int = np.asarray(raw["samples"], dtype=np.int64)
        if single:
            values, stderr, samples = values[0], stderr[0], int(raw["samples"][0])
        p = dict(params, ridge=lam) if name == "clime" else dict(params)
        if name == "stein" and control_variate:
            p["control_variate"] = True
        out[name] = Explanation(
            values=values,
            stderr=stderr,
            data=data,
            method=name,
            n_samples=n,
            params=p,
            samples_per_point=samples,
        )
    return out


def _check_estimate(name: str, values: np.ndarray, stderr: np.ndarray, scale: str) -> None:
    """Finite model outputs can still give a non-finite estimate when the neighbourhood's scale
    over- or underflows float64 (sigma^2 past 1e308, 1 / sigma past it): say so, naming the point."""
    bad = ~(np.isfinite(values) & np.isfinite(stderr))
    if bad.any():
        point = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"{name}'s estimate at point {point} is not finite although the model's outputs were: "
            f"{scale} is too large or too small for float64 arithmetic here; rescale X and {scale}"
        )
