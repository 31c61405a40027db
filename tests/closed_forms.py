"""A model whose Gaussian smoothing has a closed form, shared by the sample-scheme tests:
f(x) = sin(a.x), whose SmoothGrad is E grad f(x + e) = a cos(a.x) exp(-sigma^2 |a|^2 / 2)."""

from __future__ import annotations

import numpy as np

import gradlime as gl

A_VEC = np.array([1.0, -0.5, 2.0])
X0 = np.array([0.3, -0.2, 0.1])
SIGMA = 0.4


def sine(gradient: bool = True) -> gl.Model:
    f = lambda A: np.sin((A * A_VEC).sum(axis=1))
    if not gradient:
        return gl.Model(f)
    return gl.Model(f, grad=lambda A: np.cos((A * A_VEC).sum(axis=1))[:, None] * A_VEC)


def sine_truth(x: np.ndarray, sigma: float) -> np.ndarray:
    return A_VEC * np.cos(A_VEC @ x) * np.exp(-(sigma**2) * (A_VEC @ A_VEC) / 2)
