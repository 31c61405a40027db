"""C-LIME's and LIME's fits at large d, next to numpy's own least squares + sandwich.

    python bench/large_d_fits.py [--dims 1024 3072] [--repeat 2]

Per d: one point, n = 2d + 500 samples, a numpy callable f(A) = tanh(A w) (cheap next to the
fit). gradlime: gl.clime (sigma = 1) and gl.lime (ridge 0), each with its HC1 standard errors.
numpy: the same draws' problem solved as numpy would (np.linalg.lstsq on [1, Z], then the HC1
sandwich inv(D'D) (D' diag(r^2) D) inv(D'D); for LIME the same with the kernel weights), the
model evaluated on the same number of rows. Best of --repeat, seconds, one run side by side.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import gradlime as gl


def best(fn, repeat):
    t = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def numpy_fit(Z, y, weights=None):
    n, d = Z.shape
    D = np.c_[np.ones(n), Z]
    sw = np.ones(n) if weights is None else np.sqrt(weights)
    beta, *_ = np.linalg.lstsq(D * sw[:, None], y * sw, rcond=None)
    r = (y - D @ beta) * sw
    Ainv = np.linalg.inv((D * sw[:, None]).T @ (D * sw[:, None]))
    Dw = D * sw[:, None]
    meat = (Dw * r[:, None] ** 2).T @ Dw
    return beta, np.sqrt(np.diag(Ainv @ meat @ Ainv) * n / (n - d - 1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dims", type=int, nargs="*", default=[1024, 3072])
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    print("| d | n | method | gradlime s | numpy lstsq + sandwich s | ratio |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for d in a.dims:
        for name, ours, theirs in _calls(d):
            t_ours, t_np = best(ours, a.repeat), best(theirs, a.repeat)
            print(
                f"| {d} | {2 * d + 500} | {name} | {t_ours:.3f} | {t_np:.3f} | {t_ours / t_np:.2f}x |"
            )


def _calls(d):
    """(method, gradlime's call, numpy's) for d features and n = 2d + 500 samples."""
    n = 2 * d + 500
    w = np.random.default_rng(0).normal(size=d) / np.sqrt(d)

    def f(A):
        return np.tanh(A @ w)

    x = np.zeros((1, d))
    rng = np.random.default_rng(1)

    def np_clime():
        Z = rng.normal(size=(n, d))
        return numpy_fit(Z, f(Z))

    def np_lime():
        Z = (rng.random(size=(n, d)) < 0.5).astype(float)
        dist = np.sqrt((1 - Z).sum(axis=1))
        return numpy_fit(Z, f(Z), np.exp(-dist / (0.75 * np.sqrt(d)) ** 2))

    return (
        ("clime", lambda: gl.clime(f, x, n_samples=n, seed=1), np_clime),
        ("lime", lambda: gl.lime(f, x + 1.0, n_samples=n, ridge=0.0, seed=1), np_lime),
    )


if __name__ == "__main__":
    main()
