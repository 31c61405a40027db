"""How good an explanation is: faithfulness to the model it explains (paper 2, Sec. 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._feature_masks import groups_of
from ._shapes import flat_model, point_shape
from ._validation import as_baseline, as_points, host_array, real_array
from .models import Model, as_model, in_batches

__all__ = ["SIMILARITIES", "faithfulness"]

SIMILARITIES = ("inverse_l2", "pearson", "spearman")
_AT_REFERENCE = ("exclude", "gradient")


def faithfulness(
    model: Any,
    X: Any,
    attributions: Any,
    *,
    reference: Any = 0.0,
    similarity: str = "inverse_l2",
    at_reference: str = "exclude",
    feature_mask: Any = None,
) -> np.ndarray | float:
    """Faithfulness of attributions: Sim(phi(x), p(x)) (paper 2, Definition 3.4, eq. (1)).

    The marginal contribution of feature i is the secant slope of f towards the reference,

        p_i(x) = (f(x) - f(x with x_i set to r_i)) / (x_i - r_i),

    and the faithfulness of the attribution vector phi(x) is its similarity to p(x).

    Parameters
    ----------
    model : gl.Model or callable
        f: (m, d) -> (m,).
    X : array_like, shape (N, d) or (d,)
        The points that were explained.
    attributions : array_like or gl.Explanation, same shape as X
        phi(x) for each point, e.g. ``gl.smoothgrad(model, X)``.
    reference : float or array_like, shape (d,)
        The reference values r (paper 2, App. B.4 uses 0).
    similarity : {"inverse_l2", "pearson", "spearman"}
        "inverse_l2" is 1 / ||phi(x) - p(x)||_2, exactly paper 2's eq. (5) (no offset: it is
        ``inf`` when phi(x) = p(x), and larger is more faithful); "pearson" is the Pearson
        correlation and "spearman" the Spearman rank correlation (average ranks for ties) of
        phi(x) and p(x) over the features (paper 2, App. B.5).
    at_reference : {"exclude", "gradient"}
        Where x_i = r_i, p_i is 0/0. "exclude" (default) leaves feature i out of the similarity
        for that point; "gradient" uses the limit of the secant slope as r_i -> x_i, the partial
        derivative df/dx_i(x), and needs a model with a gradient.
    feature_mask : array_like of int, one point's shape, optional
        Groups of features (an integer label per feature, as Captum's and ``gl.kernel_shap``'s)
        set to the reference together: group G's marginal contribution is the secant slope along
        its displacement u = x_G - r_G, p_G = (f(x) - f(x with x_G set to r_G)) / c_G, and its
        attribution the same reading of phi, phi_G = phi_G . u / c_G, with
        c_G = ||u|| sign(u_first), u_first the group's first nonzero entry. Singleton groups are
        the features themselves (c = x_i - r_i); a linear model's gradient is exactly faithful
        group by group. A group wholly at the reference is read along the uniform direction
        (u = 1) with at_reference="gradient", and left out otherwise. G + 1 evaluations a point.

    Returns
    -------
    ndarray, shape (N,), or float for a 1-D X
        NaN where the similarity is undefined: every feature excluded, or, for the correlations,
        fewer than two features kept or a constant phi or p over them.

    Notes
    -----
    The N (d + 1) model evaluations (each point and its d modified copies) are made in chunks of
    the model's ``batch_size`` rows, so memory does not grow with N d.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> w = np.array([2.0, -1.0, 0.5])
    >>> f = lambda A: A @ w + 1.0
    >>> X = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    >>> gl.faithfulness(f, X, np.tile(w, (2, 1)), similarity="pearson")
    array([1., 1.])
    >>> float(gl.faithfulness(f, X[0], w + [0.0, 0.0, 0.5]))  # 1 / ||phi - p|| = 1 / 0.5
    2.0
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}")
    if at_reference not in _AT_REFERENCE:
        raise ValueError(f"at_reference must be one of {_AT_REFERENCE}; got {at_reference!r}")
    X, attributions, reference, feature_mask = map(
        host_array, (X, attributions, reference, feature_mask)
    )
    shape = point_shape(X)
    if shape is not None:  # points of any shape: flat rows, the model in their own shape
        model = flat_model(model, shape)
        if np.shape(feature_mask) == shape:
            feature_mask = np.reshape(np.asarray(feature_mask), -1)
        n = len(X)
        if np.shape(attributions) == np.shape(X):  # else the checks below say what is wrong
            attributions = np.reshape(np.asarray(attributions), (n, -1))
        X = np.reshape(np.asarray(X), (n, -1))
        if np.shape(reference) == shape:
            reference = np.reshape(np.asarray(reference), -1)
    m = as_model(model)
    P, single = as_points(X)
    n, d = P.shape
    phi = _as_attributions(attributions, P.shape, single)
    r = as_baseline(reference, d)
    if at_reference == "gradient" and not m.has_gradient:
        raise ValueError(
            "at_reference='gradient' needs a model with a gradient (gl.Model(f, grad=...)); "
            "use at_reference='exclude' for a model that gives values only"
        )
    group = np.arange(d) if feature_mask is None else groups_of(feature_mask, d)[0]
    G = int(group.max()) + 1
    y = _evaluate_rows(m, P, r, group, G)  # (N, G + 1): f(x), then f(x with group k at r)
    step = P - r
    c = _group_scales(step, group, G)  # (N, G): x_i - r_i for singletons; 0 at the reference
    at_ref = c == 0.0
    one, first = _singletons(group, G), _first_features(group, G)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (y[:, :1] - y[:, 1:]) / c
        phi_g = _group_sums(phi * step, group, G) / c
    phi_g[:, one] = phi[:, first[one]]  # a feature's own attribution, exactly
    if at_reference == "gradient" and at_ref.any():
        rows = np.flatnonzero(at_ref.any(axis=1))
        g = in_batches(m.gradient, m, P[rows])  # Model refuses non-finite gradients
        root = np.sqrt(np.bincount(group, minlength=G))  # the uniform direction's norm
        p[rows] = np.where(at_ref[rows], _group_sums(g, group, G) / root, p[rows])
        phi_g[rows] = np.where(at_ref[rows], _group_sums(phi[rows], group, G) / root, phi_g[rows])
        at_ref[:] = False
    score = _SIMILARITY[similarity]
    out = np.array([score(phi_g[i, ~at_ref[i]], p[i, ~at_ref[i]]) for i in range(n)])
    return float(out[0]) if single else out


def _group_sums(A: np.ndarray, group: np.ndarray, G: int) -> np.ndarray:
    """Sums of A's columns (N, d) over each group, (N, G), features in order."""
    out: np.ndarray
    if G == A.shape[1] and np.array_equal(group, np.arange(G)):
        out = A.copy()
        return out
    out = np.zeros((len(A), G))
    np.add.at(out.T, group, A.T)
    return out


def _group_scales(step: np.ndarray, group: np.ndarray, G: int) -> np.ndarray:
    """c_G = ||x_G - r_G|| sign of its first nonzero entry, (N, G); a singleton's is x_i - r_i."""
    norm = np.sqrt(_group_sums(step**2, group, G))
    sign = np.ones_like(norm)
    for k in reversed(range(step.shape[1])):  # the first nonzero entry of each group wins
        nz = step[:, k] != 0.0
        sign[nz, group[k]] = np.sign(step[nz, k])
    c: np.ndarray = sign * norm
    one = _singletons(group, G)
    c[:, one] = step[:, _first_features(group, G)[one]]
    return c


def _singletons(group: np.ndarray, G: int) -> np.ndarray:
    return np.asarray(np.bincount(group, minlength=G) == 1)


def _first_features(group: np.ndarray, G: int) -> np.ndarray:
    first = np.zeros(G, dtype=np.intp)
    first[group[::-1]] = np.arange(len(group))[::-1]
    return first


def _as_attributions(attributions: Any, shape: tuple[int, int], single: bool) -> np.ndarray:
    try:
        phi = real_array(attributions, "attributions")
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "attributions must be an array of numbers or a gl.Explanation; "
            f"got {type(attributions).__name__}"
        ) from exc
    if single and phi.ndim == 1:
        phi = phi[None, :]
    if phi.shape != shape:
        want = f"({shape[1]},)" if single else str(shape)
        raise ValueError(f"attributions must have the shape of X, {want}; got {phi.shape}")
    if not np.isfinite(phi).all():
        raise ValueError("attributions contain NaN or inf")
    return phi


def _evaluate_rows(m: Model, P: np.ndarray, r: np.ndarray, group: np.ndarray, G: int) -> np.ndarray:
    """f at each point and at its G copies with one group set to the reference, (N, G + 1)."""
    n, d = P.shape
    total = n * (G + 1)
    chunk = m.rows_per_batch(d)
    y = np.empty(total)
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        point, k = np.divmod(idx, G + 1)  # k = 0: the point itself; k = j + 1: group j replaced
        rows = P[point]
        at = group[None, :] == (k - 1)[:, None]
        rows[at] = np.broadcast_to(r, rows.shape)[at]
        out = m(rows)  # (len(idx),): Model checks the shape
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            j = int(k[bad[0]]) - 1
            where = "itself" if j < 0 else (f"feature {j}" if G == d else f"group {j}")
            raise ValueError(
                f"the model returned NaN or inf at point {int(point[bad[0]])} "
                f"({where + ' at reference' if j >= 0 else where})"
            )
        y[idx] = out
    return y.reshape(n, G + 1)


def _inverse_l2(u: np.ndarray, v: np.ndarray) -> float:
    # Paper 2, eq. (5): F = 1 / ||phi(x) - p(x)||, exactly (inf when they coincide).
    if u.size == 0:
        return float("nan")
    dist = float(np.linalg.norm(u - v))
    return float("inf") if dist == 0.0 else 1.0 / dist


def _pearson(u: np.ndarray, v: np.ndarray) -> float:
    if u.size < 2:
        return float("nan")
    du, dv = u - u.mean(), v - v.mean()
    denom = float(np.sqrt((du @ du) * (dv @ dv)))
    if denom == 0.0:
        return float("nan")
    return float(np.clip((du @ dv) / denom, -1.0, 1.0))


def _ranks(u: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(u, kind="stable")
    sorted_u = u[order]
    first = np.concatenate(([True], sorted_u[1:] != sorted_u[:-1]))
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(u))
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(u))
    ranks[order] = avg[group]
    return ranks


def _spearman(u: np.ndarray, v: np.ndarray) -> float:
    if u.size < 2:
        return float("nan")
    return _pearson(_ranks(u), _ranks(v))


_SIMILARITY = {"inverse_l2": _inverse_l2, "pearson": _pearson, "spearman": _spearman}
