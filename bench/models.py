"""Numpy models for the benchmarks: a two-layer tanh network with its exact gradient."""

from __future__ import annotations

import numpy as np


class TanhNet:
    """f(x) = w2 . tanh(W1^T x + b1), the kind of model paper 1 explains; cost grows with `hidden`."""

    def __init__(self, d: int, hidden: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(d, hidden)) / np.sqrt(d)
        self.b1 = rng.normal(size=hidden) * 0.1
        self.w2 = rng.normal(size=hidden) / np.sqrt(hidden)
        self.d = d

    def f(self, A: np.ndarray) -> np.ndarray:
        return np.tanh(A @ self.W1 + self.b1) @ self.w2

    def grad(self, A: np.ndarray) -> np.ndarray:
        H = np.tanh(A @ self.W1 + self.b1)
        return ((1.0 - H * H) * self.w2) @ self.W1.T


class Timed:
    """Wraps a callable and adds up the seconds spent inside it."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.rows = 0

    def __call__(self, A: np.ndarray) -> np.ndarray:
        import time

        t0 = time.perf_counter()
        out = self.fn(A)
        self.seconds += time.perf_counter() - t0
        self.rows += len(A)
        return out


def numpy_smoothgrad(
    net: TanhNet, X: np.ndarray, sigma: float, n: int, seed: int, batch: int
) -> np.ndarray:
    """The plain-numpy way: draw, call, average. A baseline for the engine."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(X)
    for i, x in enumerate(X):
        acc = np.zeros_like(x)
        for j0 in range(0, n, batch):
            m = min(batch, n - j0)
            acc += net.grad(x + sigma * rng.standard_normal((m, len(x)))).sum(axis=0)
        out[i] = acc / n
    return out
