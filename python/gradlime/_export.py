"""An Explanation taken apart and handed on: selection by point and by feature name, a pandas
DataFrame, a ``shap.Explanation``, and a file to save and load."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

from .result import Explanation

__all__ = ["load", "save", "select", "table", "to_pandas", "to_shap"]

Z95 = 1.959963984540054  # the two-sided 95% normal quantile: shap's bounds, the plots' bars

_ARRAYS = ("values", "stderr", "data", "fx", "base_values", "samples_per_point")


def names_of(E: Explanation) -> list[str]:
    """The feature names, or x0, x1, ... when it has none."""
    d = E.values.shape[-1]
    return list(E.feature_names) if E.feature_names is not None else [f"x{k}" for k in range(d)]


def _columns(E: Explanation, key: Any) -> Any:
    """Feature positions for a name, a list of names, or anything numpy indexes with."""
    names = names_of(E)

    def position(k: Any) -> Any:
        if isinstance(k, str):
            if k not in names:
                raise KeyError(f"no feature named {k!r}; the features are {names}")
            return names.index(k)
        return k

    if isinstance(key, str):
        return position(key)
    if isinstance(key, (list, tuple)):
        return [position(k) for k in key]
    return key


def flat_only(E: Explanation, what: str) -> None:
    """Tables, selection and plots are of (N, d) attributions: say so for points of any shape."""
    if E.values.ndim > 2:
        raise ValueError(
            f"{what} needs (N, d) attributions; these have shape {E.values.shape} (the points' own "
            "shape): use E.values.reshape(len(E.values), -1), or explain flat rows"
        )


def _points(E: Explanation, key: Any) -> Explanation:
    flat_only(E, "selecting points")
    if E.values.ndim != 2:
        raise IndexError("this Explanation is of one point: select features with E[:, names]")

    def part(a: Any) -> Any:
        return a[key] if isinstance(a, np.ndarray) and a.ndim >= 1 else a

    return dataclasses.replace(
        E,
        values=E.values[key],
        stderr=E.stderr[key],
        data=E.data[key],
        fx=part(E.fx),
        base_values=part(E.base_values),
        samples_per_point=part(E.samples_per_point),
        index=None if E.index is None else E.index[key],
    )


def _features(E: Explanation, key: Any) -> Explanation:
    cols = _columns(E, key)
    names = names_of(E)
    keep = np.arange(len(names))[cols]
    chosen = tuple(names[int(k)] for k in np.atleast_1d(keep))
    values, stderr, data = (a[..., cols] for a in (E.values, E.stderr, E.data))
    if np.ndim(keep) == 0:  # one feature: keep the feature axis
        values, stderr, data = (a[..., None] for a in (values, stderr, data))
    return dataclasses.replace(E, values=values, stderr=stderr, data=data, feature_names=chosen)


def select(E: Explanation, key: Any) -> Any:
    """``E[points]``, ``E[points, features]`` or ``E["name"]`` (that feature's values)."""
    if isinstance(key, str):
        return E.values[..., _columns(E, key)]
    if isinstance(key, tuple):
        if len(key) != 2:
            raise IndexError("index an Explanation by points, or by (points, features)")
        rows, cols = key
        out = E if (isinstance(rows, slice) and rows == slice(None)) else _points(E, rows)
        return _features(out, cols)
    return _points(E, key)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_pandas needs pandas: pip install 'gradlime[pandas]'") from exc
    return pd


def table(E: Explanation, *, stderr: bool = True) -> tuple[list[str], np.ndarray]:
    """The columns of E as a table, a row per point: each feature (named), its standard error
    beside it as "<name> stderr", then "fx" and "base_value" where known."""
    flat_only(E, "a table")
    values, se = np.atleast_2d(E.values), np.atleast_2d(E.stderr)
    columns: list[str] = []
    parts: list[np.ndarray] = []
    for k, name in enumerate(names_of(E)):
        columns.append(name)
        parts.append(values[:, k])
        if stderr:
            columns.append(f"{name} stderr")
            parts.append(se[:, k])
    for name, v in (("fx", E.fx), ("base_value", E.base_values)):
        if v is not None:
            columns.append(name)
            parts.append(np.atleast_1d(v))
    return columns, np.column_stack(parts)


def to_pandas(E: Explanation, *, stderr: bool = True) -> Any:
    pd = _pandas()
    columns, rows = table(E, stderr=stderr)
    index = E.index
    if index is not None and np.ndim(E.values) == 1:
        index = [index]
    return pd.DataFrame(rows, columns=columns, index=index)


def to_shap(E: Explanation) -> Any:
    try:
        import shap
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_shap needs shap: pip install shap") from exc
    return shap.Explanation(
        values=E.values,
        base_values=E.base_values,
        data=E.data,
        feature_names=names_of(E) if E.values.ndim <= 2 else None,  # images: shap's image plots
        error_std=E.stderr,
        lower_bounds=E.values - Z95 * E.stderr,
        upper_bounds=E.values + Z95 * E.stderr,
    )


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        return False
    return True


def save(E: Explanation, path: str | os.PathLike[str]) -> None:
    arrays = {k: np.asarray(getattr(E, k)) for k in _ARRAYS if getattr(E, k) is not None}
    params: dict[str, Any] = {}
    for k, v in E.params.items():
        if isinstance(v, (np.ndarray, np.generic)):
            arrays[f"param:{k}"] = np.asarray(v)
        elif _jsonable(v):
            params[k] = v
        else:
            raise TypeError(f"params[{k!r}] ({type(v).__name__}) cannot be saved")
    index = None
    if E.index is not None:
        labels = np.atleast_1d(np.asarray(E.index))
        if labels.dtype.kind not in "biufU":
            labels = labels.astype(str)
        arrays["index"] = labels
        index = {"name": getattr(E.index, "name", None), "scalar": np.ndim(E.index) == 0}
    meta = {
        "format": "gradlime.Explanation/1",
        "method": E.method,
        "n_samples": E.n_samples,
        "feature_names": None if E.feature_names is None else list(E.feature_names),
        "params": params,
        "index": index,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load(path: str | os.PathLike[str]) -> Explanation:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != "gradlime.Explanation/1":
            raise ValueError(f"{os.fspath(path)!r} is not an Explanation saved by gradlime")
        got = {k: z[k] for k in z.files}
    scalar = {k: got[k][()] if got[k].ndim == 0 else got[k] for k in _ARRAYS if k in got}
    params = dict(meta["params"])
    params.update({k[len("param:") :]: v for k, v in got.items() if k.startswith("param:")})
    index: Any = None
    if meta["index"] is not None:
        labels = got["index"]
        try:
            import pandas as pd

            index = pd.Index(labels, name=meta["index"]["name"])
        except ImportError:  # pragma: no cover - depends on the environment
            index = labels
        if meta["index"]["scalar"]:
            index = index[0]
    for k in ("fx", "base_values"):
        if k in scalar and np.ndim(scalar[k]) == 0:
            scalar[k] = float(scalar[k])
    if "samples_per_point" in scalar and np.ndim(scalar["samples_per_point"]) == 0:
        scalar["samples_per_point"] = int(scalar["samples_per_point"])
    names = meta["feature_names"]
    return Explanation(
        method=meta["method"],
        n_samples=int(meta["n_samples"]),
        params=params,
        feature_names=None if names is None else tuple(names),
        index=index,
        **scalar,
    )
