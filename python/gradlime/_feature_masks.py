"""Feature masks for KernelSHAP: ``feature_mask=`` (an integer label per feature, as Captum's)
groups features into players that are present or absent together; each group gets one Shapley
value, split evenly over its features (so a group's features sum to it, and
``base_values + values.sum(-1) == fx`` still holds).

The grouped game runs on the engine unchanged, as KernelSHAP over G players: point p is the row
of codes p + 1 and background row j the row of codes -(j + 1), so every row the engine fills
says, group by group, whether the feature values come from point p or from background row j;
the model wrapper decodes the codes into the real (m, d) rows, expands groups to their features,
and calls the model. The draws are those of KernelSHAP over G features for the same seed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .models import Model, as_model
from .result import Explanation

__all__ = ["codes", "grouped_model", "groups_of", "spread"]


def groups_of(feature_mask: Any, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(group index of each feature (d,), features per group (G,)) from the labels."""
    labels = np.asarray(feature_mask)
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"feature_mask must be an array of integer group labels; got {labels.dtype}"
        )
    if labels.shape != (d,):
        raise ValueError(
            f"feature_mask must label each of the {d} features of a point; got shape {labels.shape}"
        )
    _, group, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    return group.astype(np.intp), sizes


def grouped_model(
    model: Any, points: np.ndarray, background: np.ndarray, group: np.ndarray
) -> Model:
    """The model over rows of group codes (see the module's doc): (m, G) -> f of (m, d) rows."""
    m = as_model(model)

    def f(R: np.ndarray) -> np.ndarray:
        present = R > 0
        point = np.maximum(R.max(axis=1), 1).astype(np.intp) - 1  # rows with no point: any
        row = np.maximum(-R.min(axis=1), 1).astype(np.intp) - 1  # rows with no background: any
        A = np.where(present[:, group], points[point], background[row])
        return m(A)

    return Model(f, batch_size=m.batch_size)


def codes(n: int, G: int, sign: int) -> np.ndarray:
    """The code rows: point p is p + 1 in every group (sign 1), background row j is -(j + 1)."""
    return sign * np.repeat(np.arange(1.0, n + 1)[:, None], G, axis=1)


def spread(E: Explanation, group: np.ndarray, sizes: np.ndarray, data: np.ndarray) -> Explanation:
    """Group values (N, G) as feature values (N, d), each group's split evenly over its features."""
    share = (1.0 / sizes)[group]
    values = E.values[..., group] * share
    stderr = E.stderr[..., group] * share if E.stderr is not None else None
    params = dict(E.params, feature_groups=len(sizes))
    return dataclasses.replace(E, values=values, stderr=stderr, data=data, params=params)
