"""The result of an explanation method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Explanation"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions with their Monte-Carlo standard errors.

    Attributes
    ----------
    values : ndarray, shape (N, d) or (d,)
        The attribution of each feature at each point.
    stderr : ndarray, same shape
        Standard error of each value over the random perturbations.
    method : str
        Which estimator produced it ("smoothgrad", "clime", "stein").
    n_samples : int
        Perturbations per point.
    params : mapping
        The settings that produced it (sigma or cov, seed, ...).

    ``np.asarray(E)`` gives ``E.values``.
    """

    values: np.ndarray
    stderr: np.ndarray
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
