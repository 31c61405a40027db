"""LIME with binary masks (Ribeiro et al. 2016; paper 2, section 3.2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _core, _device, _progress, _streams
from ._labels import labelled
from ._validation import (
    adaptive,
    as_baseline,
    as_points,
    as_seed,
    check_point_memory,
    nonnegative_float,
    positive_float,
    positive_int,
)
from .models import as_model
from .result import Explanation

__all__ = ["lime"]


@labelled
def lime(
    model: Any,
    X: Any,
    *,
    n_samples: int = 1000,
    baseline: Any = 0.0,
    kernel_width: float | None = None,
    ridge: float = 1.0,
    tol: float | None = None,
    max_samples: int | None = None,
    feature_mask: Any = None,
    seed: int = 0,
    device: Any = None,
) -> Explanation:
    """LIME: a weighted ridge fit of the model on random binary masks of the features.

    For each point x, ``n_samples`` masks z in {0, 1}^d keep each feature independently with
    probability 1/2; the model is evaluated at x~ = x * z + (1 - z) * baseline, each sample is
    weighted by pi_x(z) = exp(-||x - x~||_2 / kernel_width^2) (paper 2, section 3.2: the
    Euclidean distance, not squared), and

        (b, c) = argmin_{b, c} sum_i pi_i (f(x~_i) - b - z_i . c)^2 + ridge * ||c||^2

    is solved with the intercept b unpenalised. This is the fit the ``lime`` package makes
    (scikit-learn's ``Ridge(alpha=ridge)`` with ``sample_weight=pi``). The attributions are the
    coefficients c, in mask space: c_k estimates what keeping feature k (rather than setting it
    to the baseline) adds to f, so for a linear f = w.x + b and ``ridge=0`` they are exactly
    w * (x - baseline).

    Masks are drawn from the counter-based Philox generator, a pure function of
    (seed, point index, sample): results are bitwise identical for any thread count and
    ``batch_size``. The model is evaluated in bounded batches; memory does not grow with
    N * n_samples.

    Parameters
    ----------
    model : gl.Model or callable
        ``f(A) -> (m,)`` on float64 arrays (m, d). No gradient is needed.
    X : array_like, shape (N, d) or (d,)
        Points to explain.
    n_samples : int
        Masks per point (>= 2; the standard error needs n_samples >= d + 2).
    baseline : float or array_like (d,)
        The value a feature takes when it is masked out.
    kernel_width : float, optional
        sigma of the kernel pi_x(z) = exp(-||x - x~|| / sigma^2). Defaults to 0.75 * sqrt(d),
        the ``lime`` package's tabular default.
    ridge : float
        L2 penalty on the d coefficients (not on the intercept), on the weighted sum of squares;
        1.0, as in ``lime``.
    tol : float, optional
        An adaptive sample size: each point stops once every coefficient's standard error is
        <= tol (its fit looked at after 128 x 2^k samples), at ``max_samples`` (default
        ``n_samples``) at the most; ``E.samples_per_point`` says what each used.
    max_samples : int, optional
        The most samples a point may take with ``tol``.
    feature_mask : array_like of int (d,), optional
        Group labels (as Captum's ``feature_mask``; one point's shape for image-shaped X): the
        masks are drawn per group, the features of a group kept or replaced together, the
        distance ||x - x~|| still over the features; each group's coefficient is split evenly
        over its features. The draws are those of LIME over that many features for the same seed.
    seed : int
        Seed of the counter-based generator.
    device : None, "cpu", "cuda" or "cuda:N"
        Where to run. On a CUDA device a native network (``gl.Model.from_onnx``, scikit-learn
        MLPs) is explained by the CUDA backend: the same masks, drawn there, the network and each
        point's weighted sums on the GPU, the solve on the host (``tol`` and ``feature_mask`` run
        on the CPU). A torch model runs on its own device.

    Returns
    -------
    Explanation
        ``values`` are the coefficients c; ``stderr`` their weighted HC1 sandwich standard
        errors, sqrt(diag(A^-1 M A^-1) n / (n - d - 1)) with A = Z_c^T W Z_c + ridge I and
        M = sum_i pi_i^2 r_i^2 z_ci z_ci^T (z_c: masks centred at their weighted mean, r: the
        fit's residuals). They are NaN when n_samples <= d + 1. ``params`` records baseline,
        kernel_width (the default resolved), ridge, seed and batch_size.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> w = np.array([2.0, -1.0, 0.5])
    >>> E = gl.lime(lambda A: A @ w + 3.0, [1.0, 2.0, 4.0], ridge=0.0)
    >>> np.round(E.values, 10)
    array([ 2., -2.,  2.])
    >>> round(E.params["kernel_width"], 4)  # 0.75 * sqrt(d)
    1.299
    """
    m = as_model(model)
    points, single = as_points(X)
    d = points.shape[1]
    n = positive_int(n_samples, "n_samples", minimum=2)
    base = as_baseline(baseline, d)
    width = (
        0.75 * math.sqrt(d)
        if kernel_width is None
        else positive_float(kernel_width, "kernel_width")
    )
    lam = nonnegative_float(ridge, "ridge")
    stop_tol, n = adaptive(tol, max_samples, n)
    check_point_memory("lime", d, n)
    s = as_seed(seed)
    if m.n_features is not None and m.n_features != d:
        raise ValueError(f"X has {d} features but the model takes {m.n_features}")
    batch = m.rows_per_batch(d)
    where = _device.resolve(device, m)
    if where != "cpu" and feature_mask is not None:
        raise ValueError(f"device={device!r} runs lime without feature_mask; use device='cpu'")
    run: dict[str, Any] = {
        "n_samples": n,
        "kernel_width": width,
        "ridge": lam,
        "seed": s,
        "stop_tol": stop_tol,
        "batch_rows": batch,
    }
    if feature_mask is None:
        run["point_offset"] = _streams.offset()
        values, stderr, samples = _core.lime(
            points, base, **m._engine_args(), progress=_progress.callback(), device=where, **run
        )
    else:
        values, stderr, samples = _grouped(m, points, base, feature_mask, run)
    used: np.ndarray | int = np.asarray(samples, dtype=np.int64)
    if single:
        values, stderr, used = values[0], stderr[0], int(samples[0])
    params: dict[str, Any] = {
        "baseline": float(base[0]) if np.all(base == base[0]) else base.copy(),
        "kernel_width": width,
        "ridge": lam,
        "seed": s,
        "batch_size": batch,
    }
    if tol is not None:
        params["tol"] = stop_tol
    if device is not None:
        params["device"] = device
    return Explanation(
        values=values,
        stderr=stderr,
        data=points[0] if single else points,
        method="lime",
        n_samples=n,
        params=params,
        samples_per_point=used,
    )


def _grouped(
    m: Any, points: np.ndarray, base: np.ndarray, feature_mask: Any, run: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LIME over groups of features: point p alone as G coordinates sqrt(sum over the group of
    (x - baseline)^2) against a zero baseline, so the engine's distance is the features' own;
    the model wrapper keeps the features of the groups whose coordinate the row kept. Point p
    runs with its own offset, so its masks are those of point p of LIME over G features."""
    from ._feature_masks import groups_of

    group, sizes = groups_of(feature_mask, points.shape[1])
    G = len(sizes)
    values, stderr = np.zeros(points.shape), np.zeros(points.shape)
    samples = np.zeros(len(points), dtype=np.int64)
    share = (1.0 / sizes)[group]
    for p, x in enumerate(points):
        gap = np.sqrt(np.bincount(group, weights=(x - base) ** 2, minlength=G))

        def f(R: np.ndarray, x: np.ndarray = x) -> np.ndarray:
            return np.asarray(m(np.where((R != 0.0)[:, group], x, base)))

        v, se, used = _core.lime(
            gap[None, :],
            np.zeros(G),
            f=f,
            grad=None,
            progress=_progress.callback(),
            point_offset=_streams.offset() + p,
            **run,
        )
        values[p], stderr[p], samples[p] = v[0][group] * share, se[0][group] * share, used[0]
    return values, stderr, samples
