"""Names in, names out: pandas DataFrames and Series (or ``feature_names=``) as inputs of every
method, their column names and index carried to the Explanation, and f(x) with the base value
that makes ``base_values + values.sum(-1) == fx`` for every method.

One decorator, ``labelled``, does it for all the public methods: they themselves see only numpy
arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from . import _progress
from ._validation import host_array, host_keywords, is_frame
from .result import Explanation

__all__ = ["Labels", "labelled", "read_labels"]

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Labels:
    feature_names: tuple[str, ...] | None = None
    index: Any = None  # the DataFrame's row index (pandas), None otherwise


def read_labels(X: Any, feature_names: Sequence[str] | None) -> Labels:
    """The feature names (the DataFrame's columns, a Series' index, or ``feature_names``) and
    the rows' index of X."""
    names: tuple[str, ...] | None = None
    index = None
    if is_frame(X):
        if type(X).__name__ == "DataFrame":
            names, index = tuple(str(c) for c in X.columns), X.index
        else:
            names = tuple(str(c) for c in X.index)
    if feature_names is not None:
        if isinstance(feature_names, str) or not all(isinstance(n, str) for n in feature_names):
            raise TypeError("feature_names must be a sequence of strings")
        names = tuple(feature_names)
    return Labels(names, index)


def _with_labels(E: Explanation, labels: Labels, fx: Any) -> Explanation:
    d = E.values.shape[-1]
    names = labels.feature_names
    if names is not None and len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names for {d} features")
    fx = E.fx if E.fx is not None else fx
    base = E.base_values
    if base is None and fx is not None:
        base = fx - E.values.sum(axis=-1)
    samples = E.samples_per_point
    if samples is None:  # a fixed budget: n_samples for every point
        samples = E.n_samples if E.values.ndim == 1 else np.full(len(E.values), E.n_samples)
    return dataclasses.replace(
        E,
        fx=fx,
        base_values=base,
        samples_per_point=samples,
        feature_names=names,
        index=labels.index,
    )


def labelled(fn: Callable[..., R]) -> Callable[..., R]:
    """Wraps a public method ``fn(model, X, ...)``: ``feature_names=`` and ``progress=``
    keywords (``_progress``), and names, the index, f(x) and base values on its Explanation (or
    on each of a dict of them). The method itself reads DataFrames as numbers
    (``_validation.real_array``)."""
    from ._dask import is_lazy, lazy_explanation
    from ._shapes import flat_keywords, flat_model, point_shape, unflatten
    from .models import as_model, in_batches

    @functools.wraps(fn)
    def wrapper(
        model: Any, X: Any, *args: Any, feature_names: Any = None, progress: Any = None, **kw: Any
    ) -> Any:
        if is_lazy(X):  # a dask collection: lazy results, block by block (_dask.py)
            if args:
                raise TypeError(f"{fn.__name__} over a dask X takes its parameters by keyword")
            return lazy_explanation(wrapper, model, X, dict(kw, feature_names=feature_names))
        X, args, kw = host_array(X), tuple(map(host_array, args)), host_keywords(kw)
        shape = point_shape(X)
        if shape is not None:  # (N, ...): flat rows for the method, X's shape for the results
            model, kw = flat_model(model, shape), flat_keywords(kw, shape)
            flat = np.reshape(np.asarray(X), (len(X), -1))
            shaped = wrapper(
                model, flat, *args, feature_names=feature_names, progress=progress, **kw
            )
            if isinstance(shaped, dict):
                return {k: unflatten(E, shape) for k, E in shaped.items()}
            return unflatten(shaped, shape)
        labels = read_labels(X, feature_names)
        with _progress.reporting(progress, fn.__name__):
            out: Any = fn(model, X, *args, **kw)
        results: list[Explanation] = list(out.values()) if isinstance(out, dict) else [out]
        fx = None
        if any(E.fx is None for E in results):  # one evaluation of f at the points, shared
            m = as_model(model)
            pts = np.atleast_2d(results[0].data)
            fx = in_batches(m, m, np.ascontiguousarray(pts))
            if np.ndim(results[0].data) == 1:
                fx = fx[0]
        if isinstance(out, dict):
            return {k: _with_labels(E, labels, fx) for k, E in out.items()}
        return _with_labels(out, labels, fx)

    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Any")
        for name in ("feature_names", "progress")
    ]
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    wrapper.__signature__ = sig.replace(parameters=[*params[:at], *extra, *params[at:]])  # type: ignore[attr-defined]
    return wrapper
