"""Inputs of any shape: X (N, ...) for every method, the model called on batches in the points'
own shape, attributions, standard errors and points back in X's shape; the same bits as the flat
computation; per-feature arguments (baselines, backgrounds, sigma) in one point's shape."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl

SHAPE = (2, 3, 4)
W = np.random.default_rng(0).normal(size=SHAPE)


def image_model():
    """tanh(<W, x>) on (m, 2, 3, 4) batches only: it fails on flat rows."""

    def check(A):
        assert A.shape[1:] == SHAPE, A.shape
        return (A * W).sum(axis=(1, 2, 3))

    return gl.Model(
        lambda A: np.tanh(check(A)),
        grad=lambda A: (1 - np.tanh(check(A)) ** 2)[:, None, None, None] * W,
    )


def flat_model():
    f, g = image_model().f, image_model().grad
    return gl.Model(
        lambda A: f(A.reshape(-1, *SHAPE)),
        grad=lambda A: g(A.reshape(-1, *SHAPE)).reshape(len(A), -1),
    )


X = np.random.default_rng(1).normal(size=(4, *SHAPE))
CALLS = {
    "smoothgrad": {"n_samples": 128},
    "clime": {"n_samples": 128},
    "stein": {"n_samples": 128, "qmc": True},
    "unigrad": {"n_samples": 128},
    "lime": {"n_samples": 128},
    "kernel_shap": {"n_samples": 100},
    "integrated_gradients": {"n_steps": 16},
    "gradient": {},
    "grad_x_input": {},
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_results_come_back_in_x_shape_with_the_flat_bits(name):
    E = getattr(gl, name)(image_model(), X, **CALLS[name])
    flat = getattr(gl, name)(flat_model(), X.reshape(len(X), -1), **CALLS[name])
    assert E.values.shape == E.data.shape == X.shape
    assert E.stderr is None or E.stderr.shape == X.shape
    assert E.values.reshape(len(X), -1).tobytes() == flat.values.tobytes()
    np.testing.assert_array_equal(E.data, X)
    np.testing.assert_allclose(
        E.base_values + E.values.sum(axis=(1, 2, 3)), E.fx, rtol=1e-10, atol=1e-12
    )


def test_explain_and_three_dimensional_points():
    E = gl.explain(image_model(), X, n_samples=64)
    assert {k: v.values.shape for k, v in E.items()} == dict.fromkeys(E, X.shape)
    seq = gl.Model(lambda A: np.sin(A).sum(axis=(1, 2)), grad=np.cos)
    S = gl.smoothgrad(seq, np.zeros((3, 5, 2)), sigma=0.5, n_samples=4096, seed=1)
    assert S.values.shape == (3, 5, 2)
    np.testing.assert_allclose(S.values, np.exp(-0.125), atol=5 * S.stderr.max())


def test_per_feature_arguments_in_one_points_shape():
    base = np.random.default_rng(2).normal(size=SHAPE)
    background = np.random.default_rng(3).normal(size=(5, *SHAPE))
    flat = X.reshape(len(X), -1)
    pairs = [
        (gl.integrated_gradients, {"baseline": base, "n_steps": 8}),
        (gl.kernel_shap, {"baseline": background, "n_samples": 60}),
        (gl.lime, {"baseline": base, "n_samples": 64}),
        (gl.smoothgrad, {"sigma": np.abs(base) + 0.1, "n_samples": 64}),
    ]
    for fn, kw in pairs:
        E = fn(image_model(), X, **kw)
        kw_flat = {k: (np.reshape(v, (*np.shape(v)[: np.ndim(v) - 3], -1)) if np.ndim(v) >= 3 else v)
                   for k, v in kw.items()}  # fmt: skip
        ref = fn(flat_model(), flat, **kw_flat)
        assert E.values.reshape(len(X), -1).tobytes() == ref.values.tobytes(), fn.__name__


def test_a_gradient_of_the_wrong_shape_is_refused():
    bad = gl.Model(image_model().f, grad=lambda A: np.zeros((len(A), 5)))
    with pytest.raises(ValueError, match="model grad returned shape"):
        gl.smoothgrad(bad, X, n_samples=16)


def test_what_needs_flat_attributions_says_so_and_the_rest_round_trips(tmp_path):
    E = gl.smoothgrad(image_model(), X, n_samples=32)
    for call, what in (
        (lambda: E[0], "selecting points"),
        (E.to_pandas, "a table"),
        (E.plot, "plot"),
    ):
        with pytest.raises(ValueError, match=f"{what} needs \\(N, d\\) attributions"):
            call()
    E.save(tmp_path / "e.npz")
    back = gl.Explanation.load(tmp_path / "e.npz")
    assert back.values.shape == X.shape
    assert back.values.tobytes() == E.values.tobytes()


def test_lipschitz_and_faithfulness_on_image_shaped_points():
    flat = X.reshape(len(X), -1)
    kw = {"n_samples": 32, "n_neighbors": 3, "seed": 2}
    L = gl.lipschitz(image_model(), X, **kw)
    assert L.values.tobytes() == gl.lipschitz(flat_model(), flat, **kw).values.tobytes()
    E = gl.smoothgrad(image_model(), X, n_samples=64)
    got = gl.faithfulness(image_model(), X, E)
    want = gl.faithfulness(flat_model(), flat, E.values.reshape(len(X), -1))
    np.testing.assert_array_equal(got, want)
    ref = np.full(SHAPE, 0.5)
    np.testing.assert_array_equal(
        gl.faithfulness(image_model(), X, E.values, reference=ref),
        gl.faithfulness(flat_model(), flat, E.values.reshape(len(X), -1), reference=ref.ravel()),
    )
