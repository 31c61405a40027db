"""gl.tradeoff on paper 2's toy function, whose most faithful sigma is interior."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl


# The toy function of paper 2, eq. (2), with Delta = 1: piecewise linear, gradient [1, 0] or
# [0, 1] in alternating bands of x1 - x2.
def toy_model():
    def band(A):
        k = np.floor(np.abs(A[:, 0] - A[:, 1]))
        return k, k % 2 == 1

    def f(A):
        k, odd = band(A)
        return np.where(odd, A[:, 1] + (k + 1) / 2, A[:, 0] - k / 2)

    def grad(A):
        _, odd = band(A)
        return np.stack([~odd, odd], axis=1).astype(float)

    return gl.Model(f, grad=grad)


def test_tradeoff_faithfulness_peaks_at_an_interior_sigma():
    sigmas = np.geomspace(0.02, 20, 13)
    T = gl.tradeoff(toy_model(), [[2.3, -0.2], [4.5, 2.0]], sigmas=sigmas, n_samples=2000)
    best = int(np.argmax(T.faithfulness))
    assert 0 < best < len(sigmas) - 1
    assert T.best_sigma == sigmas[best]
    assert T.faithfulness[best] > 1.1 * max(T.faithfulness[0], T.faithfulness[-1])


def test_tradeoff_lipschitz_falls_with_sigma():
    X = np.random.default_rng(0).uniform(0, 6, (40, 2))
    T = gl.tradeoff(toy_model(), X, sigmas=[0.02, 0.2, 2.0], n_samples=2000, n_neighbors=20)
    assert np.all(np.diff(T.lipschitz) < 0)
    assert T.sigmas.shape == T.lipschitz.shape == T.faithfulness.shape == (3,)


def test_tradeoff_plot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    T = gl.tradeoff(toy_model(), [[2.3, -0.2]], sigmas=[0.1, 1.0], n_samples=200, n_neighbors=5)
    assert T.plot() is not None


def test_tradeoff_lipschitz_is_lipschitz_at_each_sigma():
    X = [[2.3, -0.2], [4.5, 2.0]]
    kw = {"n_samples": 300, "n_neighbors": 4}
    T = gl.tradeoff(toy_model(), X, "clime", sigmas=[0.3, 1.0], **kw)
    for s, mean in zip(T.sigmas, T.lipschitz, strict=True):
        assert mean == gl.lipschitz(toy_model(), X, "clime", sigma=s, **kw).mean
    assert T.params["method"] == "clime"


def test_tradeoff_takes_points_of_any_shape():
    # (N, 2, 2) images of a model on their flat pixels: the same numbers as the flat points.
    rng = np.random.default_rng(1)
    X, r, w = rng.normal(size=(5, 2, 2)), rng.normal(size=(2, 2)), rng.normal(size=4)
    flat = gl.Model(lambda A: np.tanh(A @ w), grad=lambda A: (1 - np.tanh(A @ w) ** 2)[:, None] * w)
    image = gl.Model(
        lambda A: flat.f(A.reshape(len(A), 4)),
        grad=lambda A: flat.grad(A.reshape(len(A), 4)).reshape(A.shape),
    )
    kw = {"sigmas": [0.1, 1.0], "n_samples": 200, "n_neighbors": 4, "radius": 0.2}
    T = gl.tradeoff(image, X, reference=r, **kw)
    F = gl.tradeoff(flat, X.reshape(5, 4), reference=r.reshape(4), **kw)
    np.testing.assert_array_equal(T.lipschitz, F.lipschitz)
    np.testing.assert_array_equal(T.faithfulness, F.faithfulness)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigmas": []}, "sigmas must be a non-empty"),
        ({"sigmas": [0.1, -1.0]}, "sigmas must be a non-empty"),
        ({"sigmas": [0.1], "method": "unigrad"}, "tradeoff's method must be one of"),
        ({"sigmas": [0.1], "method": "lime"}, "tradeoff's method must be one of"),
    ],
)
def test_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gl.tradeoff(toy_model(), [[0.0, 1.0]], **kwargs)
