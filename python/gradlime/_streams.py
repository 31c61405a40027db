"""Where a call's points sit in a larger X: point i of a call made inside ``streams_from(k)``
draws stream k + i, so a block of rows starting at row k of X, explained anywhere (a Dask
worker, another process), gives the same bits as the rows of the whole call (the driver's point
offset, driver.hpp). Every engine call reads ``offset()``."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["offset", "streams_at", "streams_from"]

_OFFSET: contextvars.ContextVar[int] = contextvars.ContextVar("gradlime_point_offset", default=0)


def offset() -> int:
    """The global index of this call's first point (0 outside ``streams_from``)."""
    return _OFFSET.get()


@contextlib.contextmanager
def streams_from(first: int) -> Iterator[None]:
    """Calls inside draw as the rows of a larger X from row ``first`` on: point i of a call
    draws stream first + i (nested: relative to the outer). A block explained inside it, on any
    machine, gives the bits of those rows of the whole call (Dask does this for every block;
    Spark's ``mapInPandas`` can, see README).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> model = gl.Model(np.sin, grad=np.cos)
    >>> X = np.linspace(0.0, 1.0, 5)[:, None]
    >>> whole = gl.smoothgrad(model, X, n_samples=50)
    >>> with gl.streams_from(3):
    ...     tail = gl.smoothgrad(model, X[3:], n_samples=50)
    >>> bool(np.array_equal(tail.values, whole.values[3:]))
    True
    """
    token = _OFFSET.set(_OFFSET.get() + int(first))
    try:
        yield
    finally:
        _OFFSET.reset(token)


@contextlib.contextmanager
def streams_at(first: int) -> Iterator[None]:
    """Calls inside draw from stream ``first`` on, whatever the outer offset (a method that
    stacks each point's rows, as lipschitz does, places them itself)."""
    token = _OFFSET.set(int(first))
    try:
        yield
    finally:
        _OFFSET.reset(token)
