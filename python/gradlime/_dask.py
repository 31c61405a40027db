"""Explanations over Dask: X a dask array (or a dask DataFrame) for every method, ``lipschitz``
and ``tradeoff``; the blocks are explained where they lie, the result equals the local call
bit for bit.

X is split into blocks of whole points (rows; a dask array is rechunked so that only its first
axis is chunked). Block b, starting at row k of X, is explained by the same public function on
its worker inside ``_streams.streams_from(k)``, so its point i draws stream k + i exactly as
row k + i of the whole call does: the chunking changes no bit. The model is scattered to every
worker once (with a distributed client; one task of the graph otherwise), not sent with every
block: native networks travel as their layers (``Model.__reduce__``), torch modules,
scikit-learn estimators and Python callables by cloudpickle (dask's own serialisation).

A method returns an Explanation whose arrays (values, stderr, data, fx, base values, samples per
point) are lazy dask arrays, block by block; ``E.compute()`` (or ``gl.compute(E)``) computes the
blocks once and gives the ordinary Explanation, with the settings (``params``) and a DataFrame's
index as the local call has them. ``lipschitz`` returns a lazy LipschitzResult likewise;
``tradeoff``'s means are computed on the cluster and returned as an ordinary TradeoffResult.
Progress: dask's own (``dask.diagnostics.ProgressBar``, the distributed dashboard or
``distributed.progress``); the blocks run without gradlime's bars.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _streams
from .result import Explanation

__all__ = ["compute", "is_lazy", "lazy_explanation", "lazy_map"]


def is_lazy(X: Any) -> bool:
    """A dask collection (array, DataFrame or Series), without importing dask."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def import_dask() -> Any:
    try:
        import dask
        import dask.array
    except ImportError as exc:
        raise ImportError(
            "explaining a dask collection needs dask: pip install 'gradlime[dask]'"
        ) from exc
    return dask


def blocks(X: Any) -> tuple[list[Any], list[int], tuple[int, ...], tuple[str, ...] | None]:
    """X's blocks of whole points as delayed objects, their row counts, one point's shape, and
    a DataFrame's column names."""
    import_dask()
    if hasattr(X, "map_partitions"):  # a dask DataFrame
        if X.ndim != 2:
            raise TypeError(
                "a dask Series is not a set of points: pass a dask DataFrame (a row per point) "
                "or a dask array (N, d)"
            )
        parts = list(X.to_delayed())
        rows = [int(n) for n in X.map_partitions(len).compute()]
        names = tuple(str(c) for c in X.columns)
        return parts, rows, (len(names),), names
    if X.ndim < 2:
        raise ValueError(
            f"a dask array X must hold points along its first axis, (N, d) or (N, ...); got "
            f"shape {X.shape} (explain a single point with a numpy array)"
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "a dask array X needs known chunk sizes along its first axis: call "
            "X.compute_chunk_sizes() first"
        )
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    return list(X.to_delayed().ravel()), [int(c) for c in X.chunks[0]], X.shape[1:], None


def _offsets(rows: Sequence[int]) -> list[int]:
    return [int(k) for k in np.concatenate(([0], np.cumsum(rows)[:-1]))]


def _call_block(
    fn: Callable[..., Any], model: Any, block: Any, first: int, kw: dict[str, Any]
) -> Any:
    """fn on one block, its points drawn as rows first, first + 1, ... of X (on a worker)."""
    with _streams.streams_from(first):
        return fn(model, block, **kw)


def lazy_map(
    fn: Callable[..., Any], model: Any, parts: list[Any], rows: list[int], kw: dict[str, Any]
) -> list[Any]:
    """fn(model, block, **kw) on every block (``blocks(X)``'s parts and rows) as delayed
    results; the blocks run without gradlime's progress bars."""
    dask = import_dask()
    model_task = _shipped(dask, model)
    call = dask.delayed(_call_block, pure=True)
    kw = dict(kw, progress=False)
    return [
        call(fn, model_task, part, first, kw)
        for part, first in zip(parts, _offsets(rows), strict=True)
    ]


def _shipped(dask: Any, model: Any) -> Any:
    """The model as the blocks' dependency: with a distributed client, scattered to every worker
    now (each receives it once, and the blocks can run anywhere: a model held by one worker
    would draw every block there); else one task of the graph."""
    try:
        from distributed import default_client

        client = default_client()  # type: ignore[no-untyped-call]
    except (ImportError, ValueError):  # no distributed, or no client: dask's local schedulers
        return dask.delayed(model, pure=False)
    return client.scatter(model, broadcast=True, hash=False)


def lazy_explanation(fn: Callable[..., Any], model: Any, X: Any, kw: dict[str, Any]) -> Any:
    """A public method over a dask X: a lazy Explanation (or a dict of them, for ``explain``)."""
    dask = import_dask()
    da = dask.array
    parts, rows, shape, names = blocks(X)
    results = lazy_map(fn, model, parts, rows, kw)
    keys = _result_keys(fn, kw)
    index = X.index if hasattr(X, "map_partitions") else None

    def lazy(key: str | None) -> Explanation:
        picked = [r if key is None else r[key] for r in results]

        def field(name: str, point: tuple[int, ...], dtype: Any) -> Any:
            return da.concatenate(
                [
                    da.from_delayed(getattr(p, name), shape=(n, *point), dtype=dtype)
                    for p, n in zip(picked, rows, strict=True)
                ]
            )

        n_samples = kw.get("n_samples", _default(fn, "n_samples", 0))
        return Explanation(
            values=field("values", shape, np.float64),
            stderr=field("stderr", shape, np.float64),
            data=field("data", shape, np.float64),
            fx=field("fx", (), np.float64),
            base_values=field("base_values", (), np.float64),
            samples_per_point=field("samples_per_point", (), np.int64),
            method=key or fn.__name__,
            n_samples=int(n_samples) if n_samples is not None else 0,
            params={},
            feature_names=names or _names(kw.get("feature_names")),
            index=index,
            blocks=picked,
        )

    if keys is None:
        return lazy(None)
    return {key: lazy(key) for key in keys}


def computed_blocks(
    fn: Callable[..., Any], model: Any, X: Any, kw: dict[str, Any], axis: int = 0
) -> np.ndarray:
    """fn's arrays on every block, computed on the cluster and concatenated along ``axis``."""
    dask = import_dask()
    parts, rows, _, _ = blocks(X)
    (done,) = dask.compute(lazy_map(fn, model, parts, rows, kw))
    return np.concatenate(done, axis=axis)


def lazy_lipschitz(fn: Callable[..., Any], model: Any, X: Any, kw: dict[str, Any]) -> Any:
    """``lipschitz`` over a dask X: a LipschitzResult of lazy arrays, block by block."""
    from .lipschitz import LipschitzResult

    da = import_dask().array
    parts, rows, shape, _ = blocks(X)
    results = lazy_map(fn, model, parts, rows, kw)

    def field(name: str, point: tuple[int, ...]) -> Any:
        return da.concatenate(
            [
                da.from_delayed(getattr(r, name), shape=(n, *point), dtype=np.float64)
                for r, n in zip(results, rows, strict=True)
            ]
        )

    values = field("values", ())
    params = {k: v for k, v in kw.items() if k != "method"}
    params["method"] = kw["method"] if isinstance(kw["method"], str) else "callable"
    return LipschitzResult(
        values=values,
        mean=values.mean(),
        argmax_neighbor=field("argmax_neighbor", (int(np.prod(shape)),)),
        params=params,
        blocks=results,
    )


def _result_keys(fn: Callable[..., Any], kw: dict[str, Any]) -> tuple[str, ...] | None:
    """The keys of the dict ``explain`` returns (its ``methods``); None for one Explanation."""
    if fn.__name__ != "explain":
        return None
    return tuple(kw.get("methods") or _default(fn, "methods", ()))


def _default(fn: Callable[..., Any], name: str, fallback: Any) -> Any:
    p = inspect.signature(fn).parameters.get(name)
    return fallback if p is None or p.default is inspect.Parameter.empty else p.default


def _names(names: Any) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)


def compute(obj: Any, **kwargs: Any) -> Any:
    """An Explanation, a dict of them (``gl.explain``'s) or a LipschitzResult made over a dask
    X, computed: the blocks once for all of them, the local call's results bit for bit.
    Anything already computed is returned as it is. Keywords go to ``dask.compute``
    (``scheduler=``, ...).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> E = gl.smoothgrad(gl.Model(np.sin, grad=np.cos), [[0.5]], n_samples=10)
    >>> gl.compute(E) is E  # a local call's result is already computed
    True
    """
    if isinstance(obj, dict):
        lazy = {k: v for k, v in obj.items() if getattr(v, "blocks", None) is not None}
        if not lazy:
            return obj
        dask = import_dask()
        done = dask.compute({k: v.blocks for k, v in lazy.items()}, **kwargs)[0]
        return {k: _merged(v, done[k]) if k in done else v for k, v in obj.items()}
    if getattr(obj, "blocks", None) is None:
        return obj
    dask = import_dask()
    (done,) = dask.compute(obj.blocks, **kwargs)
    return _merged(obj, done)


def _merged(lazy: Any, parts: list[Any]) -> Any:
    if not isinstance(lazy, Explanation):
        return lazy.merged(parts)
    return concat_explanations(parts)


def concat_explanations(parts: list[Explanation]) -> Explanation:
    """The blocks' Explanations as one, as the local call gives it: arrays concatenated, the
    settings of block 0 with per-point entries (leading axis the block's points) concatenated,
    the DataFrame blocks' indexes appended."""
    first = parts[0]

    def cat(name: str) -> Any:
        vals = [getattr(p, name) for p in parts]
        return None if vals[0] is None else np.concatenate([np.atleast_1d(v) for v in vals])

    index = first.index
    if index is not None:
        index = index.append([p.index for p in parts[1:]]) if len(parts) > 1 else index
    return dataclasses.replace(
        first,
        values=cat("values"),
        stderr=cat("stderr"),
        data=cat("data"),
        fx=cat("fx"),
        base_values=cat("base_values"),
        samples_per_point=cat("samples_per_point"),
        params=merged_params(parts, [len(p.values) for p in parts]),
        index=index,
        blocks=None,
    )


def merged_params(parts: Sequence[Any], rows: Sequence[int]) -> dict[str, Any]:
    """Block 0's settings, with the entries that are per point (an array whose leading axis is
    its block's points in every block) concatenated over the blocks."""
    out = dict(parts[0].params)
    d = np.shape(parts[0].values)[-1] if np.ndim(parts[0].values) > 1 else None
    for name, value in out.items():
        vals = [p.params.get(name) for p in parts]
        if not all(isinstance(v, np.ndarray) and v.ndim >= 1 for v in vals):
            continue
        if not all(len(v) == n for v, n in zip(vals, rows, strict=True)):
            continue
        if all(n == d for n in rows) and all(np.array_equal(v, value) for v in vals):
            continue  # as likely one per feature: the same in every block
        out[name] = np.concatenate(vals)
    return out
