"""Robustness of explanations: Monte-Carlo local Lipschitz estimates and the
robustness-faithfulness trade-off (paper 2, eq. (4) and section 6.3; paper 1, section 6.3)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._validation import as_points, as_seed, positive_float, positive_int
from .explain import _run
from .lime import lime
from .methods import clime, smoothgrad, stein, unigrad
from .models import Model, as_model
from .paths import grad_x_input, gradient, integrated_gradients
from .shap import kernel_shap

__all__ = ["LipschitzResult", "TradeoffResult", "lipschitz", "tradeoff"]

NEIGHBORHOODS = ("gaussian", "ball")
DISTANCES = ("l2", "l1")
_NAMED: dict[str, Callable[..., Any]] = {
    "smoothgrad": smoothgrad,
    "clime": clime,
    "stein": stein,
    "unigrad": unigrad,
    "lime": lime,
    "kernel_shap": kernel_shap,
    "gradient": gradient,
    "grad_x_input": grad_x_input,
    "integrated_gradients": integrated_gradients,
}
# Gaussian-family estimators the engine can run with common draws in one pass.
_ENGINE = ("smoothgrad", "clime", "stein", "unigrad")
_SIGMA_METHODS = ("smoothgrad", "clime", "stein")
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
    """

    values: Any
    mean: float
    argmax_neighbor: np.ndarray
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = np.size(self.values)
        return (
            f"LipschitzResult(method={self.params.get('method')!r}, points={n}, "
            f"mean={self.mean:.4g}, max={float(np.max(self.values)):.4g})"
        )


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
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "TradeoffResult.plot needs matplotlib: `pip install matplotlib`"
            ) from exc
        if ax is None:
            _, ax = plt.subplots()
        ax.plot(self.lipschitz, self.faithfulness, "o-")
        for s, x, y in zip(self.sigmas, self.lipschitz, self.faithfulness, strict=True):
            ax.annotate(f"{s:.3g}", (x, y), textcoords="offset points", xytext=(4, 4))
        best = int(np.argmax(self.faithfulness))
        ax.plot(self.lipschitz[best], self.faithfulness[best], "r*", markersize=14)
        ax.set_xlabel("mean local Lipschitz (lower is more robust)")
        ax.set_ylabel("mean faithfulness")
        ax.set_title(f"{self.params.get('method', '')}: robustness-faithfulness trade-off")
        return ax


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


def _resolve(method: Any, params: dict[str, Any]) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """(name, function, bound keyword params with defaults) for a method name or callable."""
    if callable(method):
        if params:
            raise TypeError(
                f"keyword parameters {sorted(params)} go to a named method; a callable method "
                "takes (model, X) only: bind them with functools.partial or a lambda"
            )
        return getattr(method, "__name__", "callable"), method, {}
    if not isinstance(method, str) or method not in _NAMED:
        raise ValueError(
            f"method must be one of {tuple(_NAMED)} or a callable (model, X) -> Explanation; "
            f"got {method!r}"
        )
    fn = _NAMED[method]
    sig = inspect.signature(fn)
    takes = [p for p in sig.parameters if p not in ("model", "X", "seed")]
    bad = sorted(set(params) - set(takes))
    if bad:
        raise TypeError(
            f"method {method!r} takes no parameter(s) {bad}; it takes {takes}"
            + (" (the seed is lipschitz's own seed=)" if "seed" in bad else "")
        )
    bound = {
        name: params.get(name, p.default)
        for name, p in sig.parameters.items()
        if name not in ("model", "X", "seed")
    }
    return method, fn, bound


def _explain_rows(
    name: str,
    fn: Callable[..., Any],
    kw: dict[str, Any],
    m: Model,
    rows: np.ndarray,
    seed: int,
    common: bool,
) -> np.ndarray:
    """Explanations of the stacked rows (n, k + 1, d): row 0 of each block is the point."""
    n, k1, d = rows.shape
    flat = np.ascontiguousarray(rows.reshape(-1, d))
    if name in _ENGINE:
        # One engine pass over points x neighbours x samples. With common draws every row
        # reuses stream 0, so phi(x) - phi(x_j) measures the explanation, not Monte-Carlo noise.
        if name == "unigrad":
            extra = {"sigma": kw["radius"], "cov": None, "ridge": 0.0}
            extra.update(kernel="uniform", scale_name="radius")
        else:
            extra = {"sigma": kw["sigma"], "cov": kw["cov"], "ridge": kw.get("ridge", 0.0)}
        est = "smoothgrad" if name == "unigrad" else name
        out = _run(
            m, flat, (est,), n_samples=kw["n_samples"], seed=seed, common_draws=common, **extra
        )[est]
        return np.asarray(out.values).reshape(n, k1, -1)
    takes_seed = "seed" in inspect.signature(fn).parameters if name in _NAMED else False
    if name in _NAMED and takes_seed and common:
        # lime / kernel_shap draw from (seed, point index): explaining the j-th neighbours of all
        # points in one call gives x and each of its neighbours the same draws.
        cols = [
            np.asarray(fn(m, np.ascontiguousarray(rows[:, j]), seed=seed, **kw)) for j in range(k1)
        ]
        return np.stack(cols, axis=1)
    if name in _NAMED:
        out = fn(m, flat, **kw, **({"seed": seed} if takes_seed else {}))
    else:
        out = fn(m, flat)
    phi = np.asarray(out, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[0] != flat.shape[0] or not np.isfinite(phi).all():
        raise ValueError(
            f"the method must return finite explanations of shape ({flat.shape[0]}, d') for "
            f"{flat.shape[0]} stacked points; got shape {phi.shape}"
        )
    return phi.reshape(n, k1, -1)


def _lipschitz(
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
    """The result and the explanations phi(x) of the points themselves (N, d')."""
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
    name, fn, kw = _resolve(method, method_params)
    order = 2 if distance == "l2" else 1

    values = np.empty(N)
    arg = np.empty((N, d))
    phi_x: list[np.ndarray] = []
    step = max(1, _MAX_STACKED_ROWS // (k + 1))
    for c, i in enumerate(range(0, N, step)):
        pts = points[i : i + step]
        nbrs = _neighbors(pts, i, k, r, neighborhood, s)
        rows = np.concatenate([pts[:, None, :], nbrs], axis=1)
        # Without common draws each chunk gets its own seed, so no two rows share a stream.
        cseed = s if common_random_numbers or c == 0 else _derived_seed(s, 2, c)
        phi = _explain_rows(name, fn, kw, m, rows, cseed, common_random_numbers)
        num = np.linalg.norm(phi[:, 1:] - phi[:, :1], ord=order, axis=2)
        if ratio:
            den = np.linalg.norm(nbrs - pts[:, None, :], ord=order, axis=2)
            num = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        j = np.argmax(num, axis=1)
        values[i : i + step] = num[np.arange(len(pts)), j]
        arg[i : i + step] = nbrs[np.arange(len(pts)), j]
        phi_x.append(phi[:, 0])
    params: dict[str, Any] = {
        "method": name,
        "radius": r,
        "n_neighbors": k,
        "neighborhood": neighborhood,
        "distance": distance,
        "ratio": bool(ratio),
        "common_random_numbers": bool(common_random_numbers),
        "seed": s,
        **kw,
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
        A gradlime method name ("smoothgrad", "clime", "stein", "unigrad", "lime",
        "kernel_shap", "gradient", "grad_x_input", "integrated_gradients"), whose keyword
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
    result, _ = _lipschitz(
        model,
        X,
        method,
        radius=radius,
        n_neighbors=n_neighbors,
        neighborhood=neighborhood,
        distance=distance,
        ratio=ratio,
        common_random_numbers=common_random_numbers,
        seed=seed,
        method_params=method_params,
    )
    return result


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
    from .metrics import faithfulness

    grid = np.asarray(sigmas, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError(f"sigmas must be a non-empty 1-D sequence of numbers > 0; got {sigmas!r}")
    if not (callable(method) or method in _SIGMA_METHODS):
        raise ValueError(
            f"tradeoff's method must be one of {_SIGMA_METHODS} or a callable "
            f"(model, X, sigma=...); got {method!r}"
        )
    points, _ = as_points(X)
    m = as_model(model)
    lips, faiths = [], []
    for s in grid:
        if callable(method):

            def at_sigma(mm: Any, A: Any, _s: float = float(s)) -> Any:
                return method(mm, A, sigma=_s, **method_params)

            how, kw = at_sigma, {}
        else:
            how, kw = method, dict(method_params, sigma=float(s))
        res, phi = _lipschitz(
            m,
            points,
            how,
            radius=radius,
            n_neighbors=n_neighbors,
            neighborhood="gaussian",
            distance="l2",
            ratio=True,
            common_random_numbers=True,
            seed=seed,
            method_params=kw,
        )
        lips.append(res.mean)
        f = faithfulness(m, points, phi, reference=reference, similarity=similarity)
        faiths.append(float(np.mean(f)))
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
