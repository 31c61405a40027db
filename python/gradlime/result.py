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
    values : ndarray, shape (N, d) or (d,)
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
        What the attributions start from, so that ``base_values + values.sum(-1) = fx``: for
        ``kernel_shap`` the expected value E f(background), one per point; else None.
    method : str
        Which method produced it ("smoothgrad", "clime", "kernel_shap", ...).
    n_samples : int
        Perturbations per point (0 for deterministic methods).
    params : mapping
        The settings that produced it (sigma or cov, seed, ...).

    ``np.asarray(E)`` gives ``E.values``.

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

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:
            return np.array(self.values, dtype=dtype, copy=True)
        return np.asarray(self.values, dtype=dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def __repr__(self) -> str:
        return (
            f"Explanation(method={self.method!r}, shape={self.shape}, n_samples={self.n_samples}, "
            f"max stderr={float(np.max(self.stderr)):.3g})"
        )
