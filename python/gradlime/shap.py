"""KernelSHAP: Shapley values by the Shapley-kernel weighted least squares (Lundberg & Lee, 2017)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import _core, _device, _progress, _streams
from ._labels import labelled
from ._validation import (
    adaptive,
    as_background,
    as_points,
    as_seed,
    check_point_memory,
    positive_int,
)
from .models import as_model
from .result import Explanation

__all__ = ["kernel_shap"]

#: Up to this many features the default enumerates every coalition exactly.
EXACT_MAX_FEATURES = 10


def _looks(d: int, n: int) -> list[int]:
    """The adaptive budget's looks below n: 128, 256, ... (from a pair per size at least)."""
    first = max(128, 2 * (d // 2))
    return [first << k for k in range(64) if first << k < n]


def _plan(d: int, n_samples: Any) -> tuple[bool, int]:
    """(exact, coalitions per point) for d features and the user's budget."""
    all_coalitions = 2**d - 2
    if n_samples is None:
        return (True, all_coalitions) if d <= EXACT_MAX_FEATURES else (False, 2048 + 2 * d)
    n = positive_int(n_samples, "n_samples", minimum=2)
    return (True, all_coalitions) if n >= all_coalitions else (False, n)


@labelled
def kernel_shap(
    model: Any,
    X: Any,
    *,
    baseline: Any = 0.0,
    background: Any = None,
    n_samples: int | None = None,
    estimator: str = "regression",
    tol: float | None = None,
    max_samples: int | None = None,
    feature_mask: Any = None,
    seed: int = 0,
    device: Any = None,
) -> Explanation:
    """Shapley values of the model at each point, by KernelSHAP.

    The value of a coalition S of features is v(S) = mean_b f(x_S, b_{not S}) over the rows b of
    the baseline. The Shapley values phi are the Shapley-kernel weighted least-squares fit of
    v(S) - v(empty) on the coalition masks, under the efficiency constraint
    ``sum(phi) = f(x) - E f(baseline)``, which holds exactly (to float rounding) in both modes:
    the last coefficient is substituted out of the fit.

    - **Exact**: all 2^d - 2 non-trivial coalitions, each with its kernel weight; the result is
      the Shapley values themselves and ``stderr`` is zero. Used when ``n_samples`` is None and
      d <= 10, or whenever the budget allows it (``n_samples >= 2**d - 2``; then only 2^d - 2
      coalitions are evaluated).
    - **Sampled**: up to ``n_samples`` coalitions per point (2048 + 2d by default), in complement
      pairs, stratified by size: each level of sizes {k, d - k} gets the Shapley kernel's share
      of the budget (proportional to 1 / (s (d - s)) per size); levels whose pairs all fit in
      their share are enumerated whole (as shap enumerates its extreme sizes), the others drawn
      uniformly without replacement, each pair standing for its level's unsampled pairs. The
      fit then uses the pairs' differences v(S) - v(not S), the only part of the game a Shapley
      value depends on. ``estimator="regression"`` (the default) also fits the third-order
      interactions (d <= 16, with at least half as many pairs as terms; a small ridge on them
      only) and returns the fitted surrogate's exact Shapley values: the regression-adjusted
      estimator of Witter, Liu & Musco (2025) in closed form, consistent for any ridge, with
      4-20x less squared error than shap's KernelExplainer at equal budget on smooth models
      (bench/RESULTS.md). ``estimator="kernel"`` is the linear KernelSHAP fit on the same
      design. ``stderr``: the stratified sandwich over the sampled pairs (the enumerated sizes
      carry no sampling error), with the finite-population factor and leave-one-pair-out
      residuals (HC3, the jackknife's); calibrated for the linear fit, conservative (by up to
      about 1.4x) for the cubic one when its terms are about as many as the pairs. ``inf`` where
      the pairs cannot identify a coefficient's spread. Every point evaluates the call's design
      with its features relabelled by its own random permutation: each point's design is a
      uniform sample without replacement, and the fit's work is done once per call.

    The draws are a pure function of ``(seed, point index)`` (Philox4x32-10), so results are
    bitwise identical for any thread count and batch size. The model is called on
    ``n * B`` rows per point (n coalitions, B baseline rows), one row per point for f(x) and B rows
    once for E f(baseline); rows stream through the model's batch buffer, so memory does not grow
    with N, n or B.

    Parameters
    ----------
    model : gl.Model or callable
        ``f(A) -> (m,)`` on float64 arrays (m, d). Only values are used.
    X : array_like, shape (N, d) or (d,)
        Points to explain.
    baseline : float, array_like (d,) or (B, d)
        The value absent features take: a scalar, a reference point, or a background sample
        whose rows are averaged over.
    background : array_like (B, d) or (d,), optional
        The same, by shap's name for it (its background data); give one of the two.
    n_samples : int, optional
        Coalitions evaluated per point (model rows per baseline row); sampled, at least
        2 * (d // 2) (a pair for every size), and an even number of them are used. None: exact
        when d <= 10, else 2048 + 2d sampled.
    estimator : {"regression", "kernel"}
        Sampled mode's fit: the cubic regression adjustment where it applies, or KernelSHAP's
        linear fit.
    tol : float, optional
        An adaptive budget: the design is built for 128, 256, ... coalitions (nested: each
        budget's pairs are the smaller one's and more), and each point stops at the first whose
        standard errors are all <= tol, at ``max_samples`` (default ``n_samples``) at the most;
        ``E.samples_per_point`` says what each used (whole pairs). A point may have evaluated up
        to 64 rows past its stop, which its estimate does not use.
    max_samples : int, optional
        The most coalitions a point may take with ``tol``.
    feature_mask : array_like of int (d,), optional
        Group labels (as Captum's ``feature_mask``; one point's shape for image-shaped X): the
        features of a group are present or absent together, the Shapley values are the groups'
        (exact when there are at most 10 groups), each split evenly over its features, so a
        group's features sum to its value. ``params["feature_groups"]`` says how many.
    seed : int
        Seed of the counter-based generator (sampled mode).
    device : None, "cpu", "cuda" or "cuda:N"
        Where to run. On a CUDA device a native network (``gl.Model.from_onnx``, scikit-learn
        MLPs) is evaluated by the CUDA backend: every coalition's rows over the background, each
        coalition's value summed there, the fit on the host (``tol`` and ``feature_mask`` run on
        the CPU). A torch model runs on its own device.

    Returns
    -------
    Explanation
        ``method="kernel_shap"``, ``n_samples`` = coalitions evaluated per point; ``fx`` is f at
        each point and ``base_values`` the expected value E f(baseline), one per point;
        ``params`` holds ``exact``, ``estimator`` (sampled: "regression" when the cubic
        adjustment was used, else "kernel"), ``background_rows``, ``seed`` and ``batch_size``.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> f = lambda A: A[:, 0] * A[:, 1] + 2.0 * A[:, 2]
    >>> E = gl.kernel_shap(f, [1.0, 2.0, 3.0])                 # exact: 3 features
    >>> E.values                                                # the product is split evenly
    array([1., 1., 6.])
    >>> float(E.values.sum()), float(E.fx - E.base_values)
    (8.0, 8.0)
    >>> S = gl.kernel_shap(f, np.ones((2, 3)), baseline=np.zeros((4, 3)), n_samples=4, seed=1)
    >>> S.params["exact"], S.values.shape
    (False, (2, 3))
    """
    m = as_model(model)
    points, single = as_points(X)
    d = points.shape[1]
    if background is not None:
        if not (np.ndim(baseline) == 0 and np.all(np.asarray(baseline) == 0.0)):
            raise TypeError("give the background as baseline= or as background=, not both")
        baseline = background
    background = as_background(baseline, d)
    where = _device.resolve(device, m)
    if where != "cpu" and feature_mask is not None:
        raise ValueError(
            f"device={device!r} runs kernel_shap without feature_mask; use device='cpu'"
        )
    if feature_mask is not None:
        return _grouped(
            m,
            points,
            single,
            background,
            feature_mask,
            n_samples,
            estimator,
            tol,
            max_samples,
            seed,
        )
    if estimator not in ("regression", "kernel"):
        raise ValueError(f"estimator must be 'regression' or 'kernel'; got {estimator!r}")
    exact, n = _plan(d, n_samples)
    stop_tol, n = adaptive(tol, max_samples, n)
    exact = exact or n >= 2**d - 2
    n = min(n, 2**d - 2) if exact else n
    looks = _looks(d, n) if stop_tol and not exact else []
    if not exact and n < 2 * (d // 2):
        raise ValueError(
            f"sampled kernel_shap needs n_samples >= 2 * (d // 2) = {2 * (d // 2)} for {d} features "
            f"(a coalition and its complement for every size); got {n}"
        )
    check_point_memory("kernel_shap", d, n)
    s = as_seed(seed)
    if m.n_features is not None and m.n_features != d:
        raise ValueError(f"X has {d} features but the model takes {m.n_features}")
    batch = m.rows_per_batch(d)
    raw = _core.kernel_shap(
        points,
        background,
        **m._engine_args(),
        progress=_progress.callback(),
        exact=exact,
        n_samples=n,
        seed=s,
        cubic=estimator == "regression",
        stop_tol=stop_tol,
        looks=looks,
        batch_rows=batch,
        point_offset=_streams.offset(),
        device=where,
    )
    values, stderr, fx = raw["values"], raw["stderr"], raw["fx"]
    samples: np.ndarray | int = np.asarray(raw["samples"], dtype=np.int64)
    base = np.full(len(points), raw["expected_value"])
    data = points
    if single:
        values, stderr, fx, base, data = values[0], stderr[0], fx[0], base[0], points[0]
        samples = int(raw["samples"][0])
    params = {
        "exact": exact,
        **({} if exact else {"estimator": "regression" if raw["cubic"] else "kernel"}),
        **({"tol": stop_tol} if stop_tol else {}),
        "background_rows": len(background),
        "seed": s,
        "batch_size": batch,
        **({} if device is None else {"device": device}),
    }
    return Explanation(
        values=values,
        stderr=stderr,
        data=data,
        fx=fx,
        base_values=base,
        method="kernel_shap",
        n_samples=int(raw["coalitions"]) if not exact else n,
        params=params,
        samples_per_point=samples,
    )


def _grouped(
    m: Any,
    points: np.ndarray,
    single: bool,
    background: np.ndarray,
    feature_mask: Any,
    n_samples: Any,
    estimator: str,
    tol: Any,
    max_samples: Any,
    seed: Any,
) -> Explanation:
    """KernelSHAP over groups of features (_feature_masks.py)."""
    from ._feature_masks import codes, grouped_model, groups_of, spread

    group, sizes = groups_of(feature_mask, points.shape[1])
    G = len(sizes)
    E: Explanation = kernel_shap.__wrapped__(  # type: ignore[attr-defined]
        grouped_model(m, points, background, group),
        codes(len(points), G, 1),
        baseline=codes(len(background), G, -1),
        n_samples=n_samples,
        estimator=estimator,
        tol=tol,
        max_samples=max_samples,
        seed=seed,
    )
    out = spread(E, group, sizes, points)
    if single:
        return dataclasses.replace(
            out,
            values=out.values[0],
            stderr=out.stderr[0],
            data=points[0],
            fx=np.asarray(out.fx)[0],
            base_values=np.asarray(out.base_values)[0],
            samples_per_point=int(np.asarray(out.samples_per_point)[0]),
        )
    return out
