"""gl.lipschitz against answers known independently of the code."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import gradlime as gl

# gl.lipschitz is the function; the module holds the chunk size.
lipschitz_module = importlib.import_module("gradlime.lipschitz")

W = np.array([1.5, -2.0, 0.5])


def linear_model():
    return gl.Model(lambda A: A @ W + 0.3, grad=lambda A: np.broadcast_to(W, A.shape).copy())


def logistic_model(b=0.2):
    s = lambda A: 1.0 / (1.0 + np.exp(-(A @ W + b)))
    return gl.Model(s, grad=lambda A: (s(A) * (1 - s(A)))[:, None] * W)


def tanh_net():
    rng = np.random.default_rng(3)
    W1, w2 = rng.normal(size=(3, 8)), rng.normal(size=8)

    def f(A):
        return np.tanh(A @ W1) @ w2

    def grad(A):
        return ((1 - np.tanh(A @ W1) ** 2) * w2) @ W1.T

    return gl.Model(f, grad=grad)


class Recording:
    """A deterministic explanation (sin of the input, times 2) that keeps the rows it saw."""

    def __init__(self):
        self.rows = None

    def __call__(self, model, A):
        self.rows = A.copy()
        return 2.0 * np.sin(A)


X3 = np.random.default_rng(0).normal(size=(4, 3))


def test_smoothgrad_of_linear_model_is_exactly_zero_with_crn():
    L = gl.lipschitz(linear_model(), X3, sigma=0.7, n_samples=200)
    assert np.array_equal(L.values, np.zeros(4))
    assert L.mean == 0.0


def test_stein_monte_carlo_noise_shows_without_crn():
    with_crn = gl.lipschitz(linear_model(), X3, "stein", sigma=0.5, n_samples=200)
    without = gl.lipschitz(
        linear_model(), X3, "stein", sigma=0.5, n_samples=200, common_random_numbers=False
    )
    assert np.all(with_crn.values < 1e-9)  # same draws: f(a) - mean f does not depend on x
    assert np.all(without.values > 0.1)


def test_logistic_below_certified_bound():
    sigma = 0.4
    L = gl.lipschitz(logistic_model(), X3, sigma=sigma, n_samples=4000, radius=0.2)
    bound = np.sqrt(2 / np.pi) * (np.linalg.norm(W) / 4) / sigma  # paper 2, Thm C.7; L_f = |w|/4
    assert np.all(L.values > 0)
    assert np.all(L.values < bound)


def test_paper1_max_l1_distance_shrinks_with_n_samples():
    def metric(n):
        return gl.lipschitz(
            tanh_net(),
            X3,
            "clime",
            radius=0.1,
            n_neighbors=10,
            ratio=False,
            distance="l1",
            common_random_numbers=False,
            sigma=0.5,
            n_samples=n,
        ).mean

    small, mid, large = metric(100), metric(1000), metric(100000)
    # The Monte-Carlo part falls like 1/sqrt(n); what is left is the explanation's real change
    # over the radius, the same for every n.
    assert small > mid > large
    assert large < small / 1.5


def test_argmax_neighbor_is_the_maximiser():
    rec = Recording()
    L = gl.lipschitz(linear_model(), X3, rec, n_neighbors=7, radius=0.3, distance="l1")
    rows = rec.rows.reshape(4, 8, 3)
    phi = 2.0 * np.sin(rows)
    ratios = np.abs(phi[:, 1:] - phi[:, :1]).sum(2) / np.abs(rows[:, 1:] - rows[:, :1]).sum(2)
    j = ratios.argmax(axis=1)
    np.testing.assert_allclose(L.values, ratios.max(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(L.argmax_neighbor, rows[np.arange(4), 1 + j])
    np.testing.assert_array_equal(rows[:, 0], X3)


def test_callable_method_matches_the_named_one():
    by_name = gl.lipschitz(logistic_model(), X3, "gradient", n_neighbors=5)
    by_callable = gl.lipschitz(logistic_model(), X3, gl.gradient, n_neighbors=5)
    np.testing.assert_array_equal(by_name.values, by_callable.values)
    as_array = gl.lipschitz(logistic_model(), X3, lambda m, A: m.gradient(A), n_neighbors=5)
    np.testing.assert_allclose(as_array.values, by_name.values)


@pytest.mark.parametrize("neighborhood", ["gaussian", "ball"])
def test_neighbourhoods(neighborhood):
    rec = Recording()
    gl.lipschitz(linear_model(), X3, rec, n_neighbors=2000, radius=0.25, neighborhood=neighborhood)
    rows = rec.rows.reshape(4, 2001, 3)
    dist = np.linalg.norm(rows[:, 1:] - rows[:, :1], axis=2)
    if neighborhood == "ball":
        assert dist.max() <= 0.25
        # uniform in the ball: P(|e| <= r/2) = 2^-d
        assert abs(np.mean(dist <= 0.125) - 1 / 8) < 0.02
    else:
        assert abs((rows[:, 1:] - rows[:, :1]).std() - 0.25) < 0.01


def test_reproducible_and_independent_of_chunking(monkeypatch):
    kw = {"sigma": 0.5, "n_samples": 300, "n_neighbors": 6}
    for crn in (True, False):
        a = gl.lipschitz(tanh_net(), X3, "clime", common_random_numbers=crn, **kw)
        b = gl.lipschitz(tanh_net(), X3, "clime", common_random_numbers=crn, **kw)
        np.testing.assert_array_equal(a.values, b.values)
    whole = gl.lipschitz(tanh_net(), X3, **kw)
    monkeypatch.setattr(lipschitz_module, "_MAX_STACKED_ROWS", 14)  # two points per chunk
    np.testing.assert_array_equal(gl.lipschitz(tanh_net(), X3, **kw).values, whole.values)


def test_single_point_and_other_methods():
    L = gl.lipschitz(logistic_model(), X3[0], "lime", n_samples=200, n_neighbors=4)
    assert isinstance(L.values, float)
    assert L.argmax_neighbor.shape == (3,)
    for method in ("unigrad", "kernel_shap", "grad_x_input", "integrated_gradients"):
        res = gl.lipschitz(logistic_model(), X3, method, n_neighbors=4)
        assert res.values.shape == (4,)
        assert np.all(np.isfinite(res.values))
        assert res.params["method"] == method


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"radius": 0.0}, ValueError, "radius"),
        ({"radius": -1.0}, ValueError, "radius"),
        ({"n_neighbors": 0}, ValueError, "n_neighbors"),
        ({"method": "saliency"}, ValueError, "method must be one of"),
        ({"neighborhood": "cube"}, ValueError, "neighborhood"),
        ({"distance": "linf"}, ValueError, "distance"),
        ({"method": "gradient", "sigma": 0.5}, TypeError, "takes no parameter"),
        ({"bogus": 1}, TypeError, "bogus"),
        ({"method": gl.gradient, "sigma": 0.5}, TypeError, "callable"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gl.lipschitz(linear_model(), X3, **kwargs)
