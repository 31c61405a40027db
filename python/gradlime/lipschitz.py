"""Monte-Carlo local Lipschitz estimates of explanations (paper 2, eq. (4); paper 1, section 6.3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core, _dask, _progress, _streams
from ._engine import one_pass
from ._shapes import flat_keywords, flat_model, point_shape
from ._validation import (
    as_points,
    as_seed,
    host_array,
    host_keywords,
    positive_float,
    positive_int,
)
from .models import Model, as_model
from .registry import REGISTRY, MethodSpec

__all__ = ["LipschitzResult", "lipschitz"]

NEIGHBORHOODS = ("gaussian", "ball")
DISTANCES = ("l2", "l1")
_MAX_STACKED_ROWS = 1_000_000


@dataclass(frozen=True, eq=False)
class LipschitzResult:
    """Monte-Carlo local Lipschitz estimates of an explanation, one per point.

    Attributes
    ----------
    values : ndarray (N,) or float
        max_j ||phi(x) - phi(x_j)|| / ||x - x_j|| per point (or the max distance without the
        ratio); a float for a 1-D X.
    mean : float
        The mean of ``values`` over the points.
    argmax_neighbor : ndarray (N, d) or (d,)
        The neighbour x_j attaining each maximum.
    params : mapping
        The settings that produced it.
    blocks : list, optional
        Over a dask X: each block's result as a dask delayed object (``values``, ``mean`` and
        ``argmax_neighbor`` are then lazy dask arrays; ``compute()`` gives the computed result).
    """

    values: Any
    mean: Any
    argmax_neighbor: Any
    params: Mapping[str, Any] = field(default_factory=dict)
    blocks: Any = field(default=None, repr=False)

    def compute(self, **kwargs: Any) -> LipschitzResult:
        """This result with its arrays computed (over a dask X: its blocks once); the local
        call's numbers bit for bit."""
        from ._dask import compute

        result: LipschitzResult = compute(self, **kwargs)
        return result

    def merged(self, parts: list[LipschitzResult]) -> LipschitzResult:
        """The blocks' results as one, as the local call gives it."""
        values = np.concatenate([np.atleast_1d(p.values) for p in parts])
        return LipschitzResult(
            values=values,
            mean=float(values.mean()),
            argmax_neighbor=np.concatenate([p.argmax_neighbor for p in parts]),
            params=parts[0].params,
        )

    def __repr__(self) -> str:
        if self.blocks is not None:
            return f"LipschitzResult(method={self.params.get('method')!r}, lazy over dask blocks)"
        n = np.size(self.values)
        return (
            f"LipschitzResult(method={self.params.get('method')!r}, points={n}, "
            f"mean={self.mean:.4g}, max={float(np.max(self.values)):.4g})"
        )


def _derived_seed(*words: int) -> int:
    """A 64-bit seed for a sub-task, decorrelated from the user's seed by SeedSequence."""
    return int(np.random.SeedSequence(list(words)).generate_state(1, np.uint64)[0])


def _neighbors(
    points: np.ndarray, first: int, k: int, radius: float, kind: str, seed: int
) -> np.ndarray:
    """Neighbours (n, k, d) of points[...] whose global index starts at `first`: a pure function
    of (seed, point index, neighbour index), so chunking changes nothing."""
    n, d = points.shape
    nseed = _derived_seed(seed, 1)
    rows = first * k
    if kind == "gaussian":
        eps = _core.noise_rows("gaussian", np.full(d, radius), seed=nseed, first=rows, m=n * k)
    else:
        # Uniform in the L2 ball: a uniform direction times radius * U^(1/d).
        z = _core.noise_rows("gaussian", np.ones(d), seed=nseed, first=rows, m=n * k)
        u = np.abs(
            _core.noise_rows("uniform", np.ones(1), seed=nseed, stream=1, first=rows, m=n * k)
        )
        eps = z / np.linalg.norm(z, axis=1, keepdims=True) * (radius * u ** (1.0 / d))
    return points[:, None, :] + eps.reshape(n, k, d)


@dataclass(frozen=True)
class _Method:
    """What lipschitz explains with: a registered method and its bound keywords, or a callable
    (model, X) (no record, no keywords)."""

    name: str
    function: Callable[..., Any]
    spec: MethodSpec | None = None
    keywords: Mapping[str, Any] = field(default_factory=dict)


def _resolve(method: Any, params: dict[str, Any]) -> _Method:
    if callable(method):
        if params:
            raise TypeError(
                f"keyword parameters {sorted(params)} go to a named method; a callable method "
                "takes (model, X) only: bind them with functools.partial or a lambda"
            )
        return _Method(getattr(method, "__name__", "callable"), method)
    if not isinstance(method, str) or method not in REGISTRY:
        raise ValueError(
            f"method must be one of {tuple(REGISTRY)} or a callable (model, X) -> Explanation; "
            f"got {method!r}"
        )
    spec = REGISTRY[method]
    takes = spec.keywords
    bad = sorted(set(params) - set(takes))
    if bad:
        raise TypeError(
            f"method {method!r} takes no parameter(s) {bad}; it takes {list(takes)}"
            + (" (the seed is lipschitz's own seed=)" if "seed" in bad else "")
        )
    bound = {name: params.get(name, default) for name, default in takes.items()}
    return _Method(method, spec.core, spec, bound)


def _explain_rows(
    method: _Method, m: Model, rows: np.ndarray, seed: int, common: bool
) -> np.ndarray:
    """Explanations of the stacked rows (n, k + 1, d): row 0 of each block is the point."""
    n, k1, d = rows.shape
    flat = np.ascontiguousarray(rows.reshape(-1, d))
    spec, kw = method.spec, method.keywords
    kernel, scale = (spec.kernel, spec.scale) if spec is not None else (None, None)
    if spec is not None and spec.estimator and kernel and scale:
        # One engine pass over points x neighbours x samples. With common draws every row
        # reuses stream 0, so phi(x) - phi(x_j) measures the explanation, not Monte-Carlo noise.
        out = one_pass(
            m,
            flat,
            (spec.estimator,),
            kernel=kernel,
            scale=kw[scale],
            cov=kw.get("cov"),
            n_samples=kw["n_samples"],
            ridge=kw.get("ridge", 0.0),
            antithetic=kw.get("antithetic", False),
            qmc=kw.get("qmc", False),
            control_variate=kw.get("control_variate", False),
            tol=kw.get("tol"),
            max_samples=kw.get("max_samples"),
            seed=seed,
            scale_name=scale,
            common_draws=common,
            device=kw.get("device"),
        )[spec.estimator]
        return np.asarray(out.values).reshape(n, k1, -1)
    if spec is not None and spec.seeded and common:
        # lime / kernel_shap draw from (seed, point index): explaining the j-th neighbours of all
        # points in one call gives x and each of its neighbours the same draws.
        cols = [
            np.asarray(method.function(m, np.ascontiguousarray(rows[:, j]), seed=seed, **kw))
            for j in range(k1)
        ]
        return np.stack(cols, axis=1)
    seeded = {"seed": seed} if spec is not None and spec.seeded else {}
    out = method.function(m, flat, **kw, **seeded)
    phi = np.asarray(out, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[0] != flat.shape[0] or not np.isfinite(phi).all():
        raise ValueError(
            f"the method must return finite explanations of shape ({flat.shape[0]}, d') for "
            f"{flat.shape[0]} stacked points; got shape {phi.shape}"
        )
    return phi.reshape(n, k1, -1)


def lipschitz_and_explanations(
    model: Any,
    X: Any,
    method: Any,
    *,
    radius: Any,
    n_neighbors: Any,
    neighborhood: str,
    distance: str,
    ratio: bool,
    common_random_numbers: bool,
    seed: Any,
    method_params: dict[str, Any],
) -> tuple[LipschitzResult, np.ndarray]:
    """``lipschitz``'s result and the explanations phi(x) of the points themselves (N, d'), from
    the same pass (``tradeoff`` scores their faithfulness). Points of any shape (N, ...) are
    explained as flat rows, the model called in their own shape (_shapes.py)."""
    X, method_params = host_array(X), host_keywords(method_params)
    shape = point_shape(X)
    if shape is not None:
        model, method_params = flat_model(model, shape), flat_keywords(method_params, shape)
        X = np.reshape(np.asarray(X), (len(X), -1))
    m = as_model(model)
    points, single = as_points(X)
    N, d = points.shape
    r = positive_float(radius, "radius")
    k = positive_int(n_neighbors, "n_neighbors")
    if neighborhood not in NEIGHBORHOODS:
        raise ValueError(f"neighborhood must be one of {NEIGHBORHOODS}; got {neighborhood!r}")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}")
    s = as_seed(seed)
    how = _resolve(method, method_params)
    order = 2 if distance == "l2" else 1

    values = np.empty(N)
    arg = np.empty((N, d))
    phi_x: list[np.ndarray] = []
    step = max(1, _MAX_STACKED_ROWS // (k + 1))
    first = _streams.offset()  # this call's points are rows first, first + 1, ... of X
    for i in range(0, N, step):
        pts = points[i : i + step]
        nbrs = _neighbors(pts, first + i, k, r, neighborhood, s)
        rows = np.concatenate([pts[:, None, :], nbrs], axis=1)
        # Common draws: every row draws stream 0 (estimators), or point P's and its neighbours'
        # the stream of P (lime, kernel_shap). Without: row j of point P draws P (k + 1) + j, so
        # no two rows of X share a stream, however the points are chunked.
        at = first + i if common_random_numbers else (first + i) * (k + 1)
        with _streams.streams_at(at):
            phi = _explain_rows(how, m, rows, s, common_random_numbers)
        num = np.linalg.norm(phi[:, 1:] - phi[:, :1], ord=order, axis=2)
        if ratio:
            den = np.linalg.norm(nbrs - pts[:, None, :], ord=order, axis=2)
            num = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        j = np.argmax(num, axis=1)
        values[i : i + step] = num[np.arange(len(pts)), j]
        arg[i : i + step] = nbrs[np.arange(len(pts)), j]
        phi_x.append(phi[:, 0])
    params: dict[str, Any] = {
        "method": how.name,
        "radius": r,
        "n_neighbors": k,
        "neighborhood": neighborhood,
        "distance": distance,
        "ratio": bool(ratio),
        "common_random_numbers": bool(common_random_numbers),
        "seed": s,
        **how.keywords,
    }
    result = LipschitzResult(
        values=float(values[0]) if single else values,
        mean=float(values.mean()),
        argmax_neighbor=arg[0] if single else arg,
        params=params,
    )
    return result, np.concatenate(phi_x)


def lipschitz(
    model: Any,
    X: Any,
    method: Any = "smoothgrad",
    *,
    radius: float = 0.1,
    n_neighbors: int = 50,
    neighborhood: str = "gaussian",
    distance: str = "l2",
    ratio: bool = True,
    common_random_numbers: bool = True,
    seed: int = 0,
    progress: Any = None,
    **method_params: Any,
) -> LipschitzResult:
    """Monte-Carlo local Lipschitz of an explanation at each point (paper 2, eq. (4)).

    For each point x, ``n_neighbors`` neighbours x_j are drawn and

        L(x) = max_j ||phi(x) - phi(x_j)|| / ||x - x_j||          (ratio=True)
        D(x) = max_j ||phi(x) - phi(x_j)||                        (ratio=False)

    ``distance`` is the norm of both the numerator and the denominator: "l2" is paper 2's
    definition (Def. 3.1, eq. (4)); "l1" gives a Lipschitz constant for the L1 norm, and with
    ``ratio=False`` it is paper 1's robustness metric (section 6.3: the max L1 distance between
    the explanation of x and of its neighbours, there 10 neighbours with radius 0.1).

    Parameters
    ----------
    model : gl.Model or callable
    X : array_like (N, d) or (d,)
    method : str or callable
        A registered method's name (``gradlime.registry.REGISTRY``: "smoothgrad", "clime",
        "stein", "unigrad", "lime", "kernel_shap", "gradient", "grad_x_input",
        "integrated_gradients"), whose keyword
        parameters pass through (``sigma=``, ``n_samples=``, ...; unigrad's own ``radius`` clashes
        with the neighbourhood's, so unigrad runs with its default radius 1: pass a callable for
        another one), or a callable ``(model, X) -> Explanation or array (m, d')``.
    radius : float
        Size of the neighbourhood: the standard deviation of the Gaussian neighbours, or the
        radius of the L2 ball.
    n_neighbors : int
        Neighbours per point.
    neighborhood : {"gaussian", "ball"}
        x_j = x + N(0, radius^2 I), or uniform in the L2 ball {||x_j - x||_2 <= radius}. The
        neighbours are a pure function of (seed, point index, neighbour index), drawn by the
        counter-based generator.
    distance : {"l2", "l1"}
    ratio : bool
        Divide by ||x - x_j|| (a Lipschitz estimate) or not (a distance).
    common_random_numbers : bool
        Explain x and its neighbours from the same random draws. For smoothgrad, clime, stein
        and unigrad, the points and all their neighbours are explained in one engine pass in
        which every row reuses the draws of stream 0, so the differences measure how the
        explanation changes, not Monte-Carlo noise (for a linear model, smoothgrad's estimate is
        then exactly 0). For lime and kernel_shap, x and each of its neighbours share the
        masks of x's point index. Deterministic methods (gradient, grad_x_input,
        integrated_gradients) do not depend on it. A callable gets all stacked rows in one call
        and handles its own randomness. With False, every point and neighbour gets fresh
        draws, as in paper 1's figures, and the estimate includes the Monte-Carlo noise.
    seed : int
        Seeds both the neighbours and the method.
    progress : None, bool or callable
        A progress bar over the explained rows (points and neighbours), as every method's.
    **method_params
        Keyword parameters of the named method.

    Returns
    -------
    LipschitzResult

    Notes
    -----
    Points are processed in chunks so that at most about 1e6 stacked rows (points and their
    neighbours) are held at once.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> w = np.array([1.0, -2.0])
    >>> model = gl.Model(lambda A: A @ w, grad=lambda A: np.broadcast_to(w, A.shape))
    >>> gl.lipschitz(model, np.zeros((3, 2)), sigma=0.5, n_samples=100).values
    array([0., 0., 0.])
    >>> sig = gl.Model(lambda A: np.tanh(A @ w), grad=lambda A: (1 - np.tanh(A @ w)[:, None] ** 2) * w)
    >>> L = gl.lipschitz(sig, [0.3, 0.1], sigma=0.5, n_samples=2000)
    >>> bool(0.0 < L.values < np.sqrt(2 / np.pi) * np.linalg.norm(w) / 0.5)  # paper 2, Thm C.7
    True
    """
    settings: dict[str, Any] = {
        "radius": radius,
        "n_neighbors": n_neighbors,
        "neighborhood": neighborhood,
        "distance": distance,
        "ratio": ratio,
        "common_random_numbers": common_random_numbers,
        "seed": seed,
    }
    if _dask.is_lazy(X):
        lazy: LipschitzResult = _dask.lazy_lipschitz(
            lipschitz, model, X, dict(settings, method=method, **method_params)
        )
        return lazy
    with _progress.reporting(progress, "lipschitz"):
        result, _ = lipschitz_and_explanations(
            model, X, method, **settings, method_params=method_params
        )
    return result
