"""The data and model bundled with gradlime (``gradlime/data``, see its README): the diabetes
study of Efron, Hastie, Johnstone & Tibshirani (2004) and a network trained on it
(``scripts/train_demo_model.py`` in the repository)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

__all__ = ["diabetes", "diabetes_model", "feature_names"]


def _file(name: str) -> Any:
    return resources.files("gradlime") / "data" / name


def diabetes(*, as_frame: bool = False) -> tuple[Any, Any]:
    """(X, y): ten baseline measurements of 442 patients, unscaled (age, sex, bmi, bp and six
    blood serum values), and their disease progression one year later. As a pandas DataFrame
    and Series with ``as_frame=True``, else numpy arrays.

    Examples
    --------
    >>> import gradlime as gl
    >>> X, y = gl.datasets.diabetes()
    >>> X.shape, y.shape
    ((442, 10), (442,))
    """
    with _file("diabetes.csv").open("r") as fh:
        header = fh.readline().strip().split(",")
        table = np.loadtxt(fh, delimiter=",")
    X, y = table[:, :-1], table[:, -1]
    if not as_frame:
        return X, y
    import pandas as pd

    return pd.DataFrame(X, columns=header[:-1]), pd.Series(y, name=header[-1])


def feature_names() -> tuple[str, ...]:
    """The diabetes data's column names."""
    with _file("diabetes.csv").open("r") as fh:
        return tuple(fh.readline().strip().split(",")[:-1])


def diabetes_model() -> Any:
    """A 10-16-16-1 tanh network predicting the progression from the raw measurements (held-out
    R^2 0.35; a linear fit's is 0.33), as a native ONNX model (needs the onnx extra)."""
    from .models import Model

    return Model.from_onnx(_file("diabetes_mlp.onnx").read_bytes())
