"""Smoothed models: f_mu(x) = E[f(x + z)] for a kernel mu, as a gl.Model."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._validation import as_seed, noise_spec, positive_int, qmc_scrambles
from .models import Model, as_model

__all__ = ["smoothed"]


def smoothed(
    model: Any,
    *,
    kernel: str = "gaussian",
    scale: Any = 1.0,
    cov: Any = None,
    n_samples: int = 100,
    antithetic: bool = False,
    qmc: bool | int = False,
    seed: int = 0,
) -> Model:
    """The model composed with a smoothing kernel: f_mu(x) = E_z[f(x + z)], as a ``gl.Model``.

    Paper 2 (Thm 4.3) shows that composing a model with a kernel whose density has bounded total
    variation makes every explanation of it more robust. The expectation is estimated with one
    fixed set of ``n_samples`` draws shared by every x (common random numbers), so f_mu and its
    gradient E[grad f(x + z)] are deterministic and smooth in x, and any method applied to the
    smoothed model is too. Each evaluation costs ``n_samples`` evaluations of the model.

    Parameters
    ----------
    kernel : {"gaussian", "uniform", "laplace"}
    scale : float or array (d,)
        The Gaussian's standard deviation, the uniform cube's half-width, or the Laplace b
        (density exp(-|z|/b)/(2b) per coordinate).
    cov : array (d, d), optional
        A full covariance for the Gaussian kernel (overrides ``scale``).
    n_samples, antithetic, qmc, seed
        The fixed draws: the same as those of ``gl.smoothgrad`` for a single point with this seed,
        ``antithetic`` (pairs z, -z) and ``qmc`` (scrambled Sobol' points, ``gl.explain``;
        ``n_samples`` a multiple of the scrambles, and even with pairs).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> relu = gl.Model(lambda A: np.maximum(A[:, 0], 0), grad=lambda A: (A > 0).astype(float))
    >>> soft = gl.smoothed(relu, kernel="uniform", scale=0.5, n_samples=1000)
    >>> g = soft.gradient(np.zeros((1, 1)))[0, 0]  # P(z > 0) = 1/2, up to Monte-Carlo error
    >>> bool(abs(g - 0.5) < 0.05)
    True
    """
    base = as_model(model)
    n = positive_int(n_samples, "n_samples")
    scrambles = qmc_scrambles(qmc)
    if scrambles and n % scrambles:
        raise ValueError(
            f"qmc with {scrambles} scrambles needs n_samples a multiple of {scrambles}; got {n}"
        )
    s = as_seed(seed)
    draws: dict[int, np.ndarray] = {}

    def noise(d: int) -> np.ndarray:
        if d not in draws:
            scale_d, cov_d = noise_spec(scale, cov, d, kernel=kernel, name="scale")
            draws[d] = _core.noise_rows(
                kernel,
                scale=scale_d,
                cov=cov_d,
                seed=s,
                stream=0,
                first=0,
                m=n,
                antithetic=bool(antithetic),
                qmc=scrambles,
            )
        return draws[d]

    if base.n_features is not None:
        noise(base.n_features)  # validate now when the width is known
    else:  # else what can be checked without it: the width the scale or cov implies
        noise_spec(scale, cov, _implied_width(scale, cov), kernel=kernel, name="scale")

    def average(fn: Any, A: np.ndarray) -> np.ndarray:
        d = A.shape[1]
        Z = noise(d)
        rows_per_call = max(1, base.rows_per_batch(d) // n)
        out = []
        for i in range(0, len(A), rows_per_call):
            chunk = A[i : i + rows_per_call]
            vals = fn((chunk[:, None, :] + Z[None, :, :]).reshape(-1, d))
            out.append(np.asarray(vals, dtype=np.float64).reshape(len(chunk), n, -1).mean(axis=1))
        return np.concatenate(out)

    def f(A: np.ndarray) -> np.ndarray:
        return average(base, A)[:, 0]

    def grad(A: np.ndarray) -> np.ndarray:
        return average(base.gradient, A)

    smooth = Model(f, grad=grad if base.has_gradient else None)
    smooth.engine, smooth.n_features = base.engine, base.n_features
    smooth.no_gradient_reason = base.no_gradient_reason
    return smooth


def _implied_width(scale: Any, cov: Any) -> int:
    """The number of features a per-feature scale or a covariance implies (1 for a scalar scale)."""
    if cov is not None:
        shape = np.shape(cov)
        if len(shape) != 2:
            raise ValueError(f"cov must be a (d, d) matrix; got shape {shape}")
        return int(shape[0])
    return int(np.size(scale)) if np.ndim(scale) == 1 else 1
