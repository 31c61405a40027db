"""Models the engine can explain: numpy callables, with or without a gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import positive_int

__all__ = ["Model", "as_model"]

ArrayFn = Callable[[np.ndarray], Any]


class Model:
    """A model f: R^d -> R evaluated on batches, optionally with its gradient.

    Parameters
    ----------
    f : callable
        Maps a float64 C-contiguous array of shape (m, d) to m outputs, shape (m,).
    grad : callable, optional
        Maps the same (m, d) array to the gradients of f, shape (m, d). Needed by ``smoothgrad``.
    batch_size : int, optional
        Most rows handed to ``f``/``grad`` in one call. Defaults to 8192 (fewer when d is so large
        that the batch would exceed 64 MiB).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> w = np.array([1.0, -2.0])
    >>> model = gl.Model(lambda A: A @ w, grad=lambda A: np.broadcast_to(w, A.shape))
    >>> gl.smoothgrad(model, [0.5, 0.5], n_samples=100).values
    array([ 1., -2.])
    """

    def __init__(
        self, f: ArrayFn, grad: ArrayFn | None = None, *, batch_size: int | None = None
    ) -> None:
        if not callable(f):
            raise TypeError(f"f must be callable (m, d) -> (m,); got {type(f).__name__}")
        if grad is not None and not callable(grad):
            raise TypeError(
                f"grad must be callable (m, d) -> (m, d) or None; got {type(grad).__name__}"
            )
        self.f = f
        self.grad = grad
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")

    @property
    def has_gradient(self) -> bool:
        return self.grad is not None

    def __call__(self, X: Any) -> np.ndarray:
        """Evaluate f on a batch (m, d)."""
        return np.asarray(self.f(np.ascontiguousarray(X, dtype=np.float64)), dtype=np.float64)

    def __repr__(self) -> str:
        grad = "with gradient" if self.has_gradient else "values only"
        return f"gradlime.Model({getattr(self.f, '__name__', type(self.f).__name__)}, {grad}, batch_size={self.batch_size})"


def as_model(model: Any) -> Model:
    """A gl.Model as is; a plain callable wrapped as ``gl.Model(f)``."""
    if isinstance(model, Model):
        return model
    if callable(model):
        return Model(model)
    raise TypeError(
        f"model must be a gradlime.Model or a callable (m, d) -> (m,); got {type(model).__name__}"
    )
