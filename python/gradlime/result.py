"""The result of an explanation method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Explanation"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Explanation:
    """Attributions with their Monte-Carlo standard errors, the points they explain and, where
    the method computes them, the model's output there and its base value.

    Attributes
    ----------
    values : ndarray, shape (N, d), (d,) or X's (N, ...)
        The attribution of each feature at each point.
    stderr : ndarray, same shape
        Standard error of each value over the random perturbations.
    data : ndarray, same shape
        The points explained, as float64 in X's shape (X itself, or a view of it, when X already
        is a C-contiguous float64 array).
    fx : ndarray (N,) or float, optional
        The model's output at each point, where the method evaluates it (``kernel_shap``,
        ``integrated_gradients``); else None.
    base_values : ndarray (N,) or float, optional
        What the attributions start from, so that ``base_values + values.sum(-1) == fx``: for
        ``kernel_shap`` the expected value E f(background), one per point; for every other
        method f(x) minus the attributions' sum (what they leave unexplained: for SmoothGrad the
        gap of a first-order Taylor model, for Integrated Gradients f(baseline) plus the
        quadrature's completeness gap).
    feature_names : tuple of str, optional
        The features' names: a DataFrame's columns, a Series' index, or ``feature_names=``.
    index : pandas.Index, optional
        The explained DataFrame's row index.
    samples_per_point : ndarray (N,) or int, optional
        The model evaluations each point used (perturbations, coalitions, path nodes).
    method : str
        Which method produced it ("smoothgrad", "clime", "kernel_shap", ...).
    n_samples : int
        Perturbations per point (0 for deterministic methods).
    params : mapping
        The settings that produced it (sigma or cov, seed, ...).

    ``np.asarray(E)`` gives ``E.values``. ``E[i]`` (or a slice, or an index array) is the
    Explanation of those points; ``E[:, "age"]`` or ``E[i, ["age", "income"]]`` keeps only those
    features (their base values unchanged); ``E["age"]`` is that feature's values.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> E = gl.kernel_shap(lambda A: A @ [1.0, 2.0] + 3.0, [[1.0, 1.0], [2.0, 0.0]])
    >>> E.fx, E.base_values
    (array([6., 5.]), array([3., 3.]))
    >>> bool(np.allclose(E.base_values + E.values.sum(axis=1), E.fx))
    True
    >>> E.data
    array([[1., 1.],
           [2., 0.]])
    """

    values: np.ndarray
    stderr: np.ndarray
    data: np.ndarray
    fx: np.ndarray | float | None = None
    base_values: np.ndarray | float | None = None
    method: str
    n_samples: int
    params: Mapping[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] | None = None
    index: Any = None
    samples_per_point: np.ndarray | int | None = None
    #: Over a dask X: each block's Explanation as a dask delayed object (the arrays above are
    #: lazy dask arrays built from them); None for a computed Explanation.
    blocks: Any = field(default=None, repr=False)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self.values, dtype=dtype, copy=True)
        return np.asarray(self.values, dtype=dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def _needs_computed(self, what: str) -> None:
        if self.blocks is not None:
            raise ValueError(f"{what} needs the computed Explanation: call E.compute() first")

    def __getitem__(self, key: Any) -> Any:
        self._needs_computed("indexing")
        from ._export import select

        return select(self, key)

    def to_pandas(self, *, stderr: bool = True) -> Any:
        """A DataFrame: a column of values per feature (named), its standard errors beside it
        as "<name> stderr", then "fx" and "base_value" where known; the explained rows' index."""
        self._needs_computed("to_pandas")
        from ._export import to_pandas

        return to_pandas(self, stderr=stderr)

    def to_shap(self) -> Any:
        """A ``shap.Explanation`` (values, base_values, data, feature_names, error_std, and
        95% bounds from the standard errors) for shap's plots: waterfall, beeswarm, bar."""
        self._needs_computed("to_shap")
        from ._export import to_shap

        return to_shap(self)

    def plot(self, i: int | None = None, **kwargs: Any) -> Any:
        """Point i's attributions as bars with 95% error bars (``gl.plots.attributions``); with
        several points and no i, all of them per feature (``gl.plots.summary``). Needs
        matplotlib; returns the Axes."""
        self._needs_computed("plot")
        from ._export import flat_only

        flat_only(self, "plot")
        from . import plots

        if i is None and self.values.ndim == 2 and len(self.values) > 1:
            return plots.summary(self, **kwargs)
        return plots.attributions(self, i, **kwargs)

    def save(self, path: Any) -> None:
        """Writes the Explanation to ``path`` (a .npz file of its arrays and settings)."""
        self._needs_computed("save")
        from ._export import save

        save(self, path)

    @classmethod
    def load(cls, path: Any) -> Explanation:
        """Reads what ``save`` wrote."""
        from ._export import load

        return load(path)

    def compute(self, **kwargs: Any) -> Explanation:
        """This Explanation with its arrays computed, for one made over a dask X (its blocks
        computed once; its ``params`` and a DataFrame's index as the local call gives them);
        an Explanation already computed is returned as it is."""
        from ._dask import compute

        result: Explanation = compute(self, **kwargs)
        return result

    def __repr__(self) -> str:
        if self.blocks is not None:
            return (
                f"Explanation(method={self.method!r}, shape={self.shape}, "
                f"n_samples={self.n_samples}, lazy over {len(self.blocks)} dask blocks)"
            )
        return (
            f"Explanation(method={self.method!r}, shape={self.shape}, n_samples={self.n_samples}, "
            f"max stderr={float(np.max(self.stderr)):.3g})"
        )
