"""The robustness-faithfulness trade-off of a smoothed explanation (paper 2, section 6.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _dask, _progress
from ._shapes import point_shape
from ._validation import as_points, host_array, host_keywords
from .lipschitz import lipschitz_and_explanations
from .metrics import faithfulness
from .models import as_model
from .registry import REGISTRY

__all__ = ["TradeoffResult", "tradeoff"]

#: The named methods whose neighbourhood a sigma scales.
SIGMA_METHODS = tuple(s.name for s in REGISTRY.values() if s.scale == "sigma")


@dataclass(frozen=True, eq=False)
class TradeoffResult:
    """Mean local Lipschitz and mean faithfulness of an explanation over a grid of sigmas.

    Attributes
    ----------
    sigmas, lipschitz, faithfulness : ndarray (S,)
    best_sigma : float
        The sigma of the most faithful explanation.
    params : mapping
    """

    sigmas: np.ndarray
    lipschitz: np.ndarray
    faithfulness: np.ndarray
    best_sigma: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def plot(self, ax: Any = None) -> Any:
        """Faithfulness against local Lipschitz, one marker per sigma (paper 2, Figure 5).

        Needs matplotlib; returns the axes.
        """
        from . import plots

        return plots.tradeoff(self, ax=ax)


def tradeoff(
    model: Any,
    X: Any,
    method: Any = "smoothgrad",
    *,
    sigmas: Sequence[float],
    reference: Any = 0.0,
    similarity: str = "inverse_l2",
    radius: float = 0.1,
    n_neighbors: int = 50,
    seed: int = 0,
    progress: Any = None,
    **method_params: Any,
) -> TradeoffResult:
    """Robustness and faithfulness of an explanation as its smoothing sigma grows (paper 2, 6.3).

    For each sigma, the explanation's mean local Lipschitz (``gl.lipschitz`` with common
    random numbers, ``radius`` and ``n_neighbors``) and its mean faithfulness
    (``gl.faithfulness`` with ``reference`` and ``similarity``) over the points X. Paper 2,
    Theorem 5.2: the Lipschitz falls as sigma grows, while the faithfulness first rises and
    then falls, so the most faithful sigma is interior.

    Parameters
    ----------
    method : {"smoothgrad", "clime", "stein"} or callable
        A callable is called as ``method(model, X, sigma=s)``.
    progress : None, bool or callable
        One progress bar over every sigma's rows, as every method's.
    sigmas : sequence of float
        The smoothing scales to compare, each > 0.

    Returns
    -------
    TradeoffResult

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> model = gl.Model(np.sin, grad=np.cos)
    >>> T = gl.tradeoff(model, [[0.5]], sigmas=[0.1, 1.0], n_samples=500)
    >>> bool(T.lipschitz[1] < T.lipschitz[0])
    True
    """
    grid = np.asarray(sigmas, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError(f"sigmas must be a non-empty 1-D sequence of numbers > 0; got {sigmas!r}")
    if not (callable(method) or method in SIGMA_METHODS):
        raise ValueError(
            f"tradeoff's method must be one of {SIGMA_METHODS} or a callable "
            f"(model, X, sigma=...); got {method!r}"
        )
    kw = dict(
        method=method,
        sigmas=grid,
        reference=reference,
        similarity=similarity,
        radius=radius,
        n_neighbors=n_neighbors,
        seed=seed,
        **method_params,
    )
    if _dask.is_lazy(X):  # per-point numbers from the blocks, on the cluster; means here
        per_point = _dask.computed_blocks(tradeoff_points, model, X, kw, axis=2)
    else:
        with _progress.reporting(progress, "tradeoff"):  # one bar over every sigma
            per_point = tradeoff_points(model, X, **kw)
    lips, faiths = per_point.mean(axis=2)
    faith = np.asarray(faiths)
    return TradeoffResult(
        sigmas=grid,
        lipschitz=np.asarray(lips),
        faithfulness=faith,
        best_sigma=float(grid[int(np.argmax(faith))]),
        params={
            "method": getattr(method, "__name__", method),
            "reference": reference,
            "similarity": similarity,
            "radius": radius,
            "n_neighbors": n_neighbors,
            "seed": seed,
            **method_params,
        },
    )


def tradeoff_points(
    model: Any,
    X: Any,
    method: Any,
    *,
    sigmas: np.ndarray,
    reference: Any,
    similarity: str,
    radius: float,
    n_neighbors: int,
    seed: int,
    progress: Any = None,
    **method_params: Any,
) -> np.ndarray:
    """Each point's local Lipschitz and faithfulness at each sigma, (2, S, N): what ``tradeoff``
    averages (a block of X's points gives its columns of the whole, bit for bit). Points of any
    shape (N, ...) are scored as flat rows, the model called in their own shape (_shapes.py)."""
    # Points of any shape go on as they are: lipschitz and faithfulness flatten them, with the
    # per-feature keywords and the reference, themselves (_shapes.py).
    X, reference, method_params = host_array(X), host_array(reference), host_keywords(method_params)
    points = np.asarray(X) if point_shape(X) is not None else as_points(X)[0]
    m = as_model(model)
    out = np.empty((2, len(sigmas), len(points)))
    for i, s in enumerate(sigmas):
        if callable(method):

            def at_sigma(mm: Any, A: Any, _s: float = float(s)) -> Any:
                return method(mm, A, sigma=_s, **method_params)

            how, kw = at_sigma, {}
        else:
            how, kw = method, dict(method_params, sigma=float(s))
        out[:, i] = robustness_and_faithfulness(
            m,
            points,
            how,
            kw,
            radius=radius,
            n_neighbors=n_neighbors,
            seed=seed,
            reference=reference,
            similarity=similarity,
        )
    return out


def robustness_and_faithfulness(
    model: Any,
    points: np.ndarray,
    method: Any,
    method_params: dict[str, Any],
    *,
    radius: float,
    n_neighbors: int,
    seed: int,
    reference: Any = 0.0,
    similarity: str = "inverse_l2",
) -> np.ndarray:
    """One method's local Lipschitz (common random numbers, Gaussian neighbours, L2) and the
    faithfulness of its explanations at each point, (2, N), from one pass."""
    res, phi = lipschitz_and_explanations(
        model,
        points,
        method,
        radius=radius,
        n_neighbors=n_neighbors,
        neighborhood="gaussian",
        distance="l2",
        ratio=True,
        common_random_numbers=True,
        seed=seed,
        method_params=method_params,
    )
    faith = faithfulness(model, points, phi, reference=reference, similarity=similarity)
    return np.stack([np.asarray(res.values), np.asarray(faith)])
