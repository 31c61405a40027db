"""gl.theory: each bound against its formula, and the network bound certified by sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradlime as gl
from gradlime import theory


def test_formulas_on_numbers():
    assert theory.smoothgrad_lipschitz_bound(3.0, 2.0) == pytest.approx(
        math.sqrt(2 / (math.pi * 4.0)) * 3.0
    )
    assert theory.smoothgrad_lipschitz_bound_from_gradient(3.0, 2.0) == pytest.approx(0.75)
    assert theory.smoothgrad_lipschitz_order(3.0, 2.0) == pytest.approx(1.5)
    assert theory.shap_lipschitz_order(2.0, 9) == pytest.approx(6.0)
    assert theory.shap_lipschitz_bound(2.0, 9) == pytest.approx(12.0)
    L, d, lam, s, b, R = 2.0, 9, 0.5, 3.0, 1.5, 4.0
    assert theory.lime_lipschitz_order(L, d, lam, s, b, R) == pytest.approx(
        3 * L / lam + b * R * (lam + d) * 3 / (lam**2 * s**2) * math.exp(2 * b / s**2)
    )
    assert theory.gradient_lipschitz_bound(2.5) == 2.5
    assert theory.grad_x_input_lipschitz_bound(2.0, 1.0, 3.0) == pytest.approx(7.0)
    assert theory.integrated_gradients_lipschitz_bound(2.0, 1.0, 3.0) == pytest.approx(4.0)
    assert theory.smoothgrad_samples(2.0, 0.5, 0.1, 20, C=3.0) == pytest.approx(
        3.0 * 16.0 * math.log(200.0)
    )
    # Theorem 3: the min is eps sigma^3 / ||x|| here
    d, eps, delta, sigma, xn = 7, 0.2, 0.01, 0.5, 3.0
    m = min(eps * sigma**2, eps * sigma**3 / xn, xn, 1 / sigma**2)
    assert m == eps * sigma**3 / xn
    assert theory.clime_samples(d, eps, delta, sigma, xn, C=2.0) == pytest.approx(
        2.0 * d * math.log(d / delta) / m**2
    )


def test_clime_ridge_closed_form(rng):
    M = rng.normal(size=(4, 4))
    Sigma = M @ M.T + np.eye(4)
    c = rng.normal(size=4)
    np.testing.assert_allclose(
        theory.clime_ridge(c, Sigma, 0.3), np.linalg.solve(Sigma + 0.3 * np.eye(4), c)
    )
    np.testing.assert_allclose(theory.clime_ridge(c, 2.0, 0.0), c / 2.0)


def test_clime_ridge_matches_the_estimator_on_a_linear_model():
    # f = w.a: cov(a, f(a)) = Sigma w, so Lemma 6 gives (Sigma + lam I)^-1 Sigma w; gl.clime's
    # sample form tends to it.
    w = np.array([1.0, -2.0])
    sigma, lam = 0.5, 0.1
    want = theory.clime_ridge(sigma**2 * w, sigma**2, lam)
    E = gl.clime(lambda A: A @ w, [0.3, 0.2], sigma=sigma, ridge=lam, n_samples=200000)
    np.testing.assert_allclose(E.values, want, atol=0.01)


def test_paper1_theorem2_constant_is_violated_by_abs():
    """f = |x|, ||grad f|| <= 1: SmoothGrad = 2 Phi(x / sigma) - 1 has slope sqrt(2/pi)/sigma at
    0, above paper 1's stated 1 / (2 sigma) and equal to paper 2's Thm C.7 bound."""
    sigma, h = 0.7, 1e-6
    sg = [math.erf(t / (sigma * math.sqrt(2))) for t in (-h, h)]
    slope = (sg[1] - sg[0]) / (2 * h)
    assert slope > theory.smoothgrad_lipschitz_bound_from_gradient(1.0, sigma)
    assert slope == pytest.approx(theory.smoothgrad_lipschitz_bound(1.0, sigma), rel=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: theory.smoothgrad_lipschitz_bound(1.0, 0.0), "sigma"),
        (lambda: theory.smoothgrad_lipschitz_bound(-1.0, 1.0), "model_lipschitz"),
        (lambda: theory.smoothgrad_lipschitz_bound_from_gradient(1.0, -1.0), "sigma"),
        (lambda: theory.smoothgrad_samples(1.0, 0.0, 0.1, 3), "eps"),
        (lambda: theory.smoothgrad_samples(1.0, 0.1, 1.0, 3), "delta"),
        (lambda: theory.smoothgrad_samples(1.0, 0.1, 0.1, 0), "d must"),
        (lambda: theory.clime_samples(3, 0.1, 0.0, 1.0, 1.0), "delta"),
        (lambda: theory.clime_samples(3, 0.1, 0.1, 1.0, 0.0), "x_norm"),
        (lambda: theory.clime_samples(3, 0.1, 0.1, 1.0, 1.0, C=0.0), "C"),
        (lambda: theory.lime_lipschitz_order(1.0, 3, 0.0, 1.0, 1.0, 1.0), "lam"),
        (lambda: theory.clime_ridge([1.0, 2.0], np.eye(3), 0.1), "Sigma"),
        (lambda: theory.clime_ridge([1.0, 2.0], [[1.0, 0.5], [0.0, 1.0]], 0.1), "symmetric"),
        (lambda: theory.clime_ridge([1.0, 2.0], np.eye(2), -1.0), "lam"),
        (lambda: theory.network_lipschitz_bound(gl.Model(np.sin)), "native"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- network_lipschitz_bound -----------------------------------------------------------------


def onnx_chain(layers, d):
    """A feed-forward ONNX model from [("dense", W (out, in)), ("Relu", {attrs}), ...]."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, cur, width = [], [], "x", d
    for k, layer in enumerate(layers):
        out = f"h{k}"
        if layer[0] == "dense":
            W = np.asarray(layer[1], dtype=np.float32)
            b = np.asarray(layer[2], dtype=np.float32)
            inits += [
                numpy_helper.from_array(W.T.copy(), f"W{k}"),
                numpy_helper.from_array(b, f"b{k}"),
            ]
            nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"b{k}"], [out]))
            width = W.shape[0]
        else:
            nodes.append(helper.make_node(layer[0], [cur], [out], **layer[1]))
        cur = out
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["N", width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def random_dense(rng, out, inp, scale=1.0):
    return ("dense", scale * rng.normal(size=(out, inp)) / math.sqrt(inp), rng.normal(size=out))


NETWORKS = {
    "relu": lambda r: [random_dense(r, 8, 3), ("Relu", {}), random_dense(r, 1, 8)],
    "tanh_sigmoid": lambda r: [
        random_dense(r, 6, 3, 3.0),
        ("Tanh", {}),
        random_dense(r, 5, 6, 3.0),
        ("Sigmoid", {}),
        random_dense(r, 2, 5),
    ],
    "leaky_elu_selu": lambda r: [
        random_dense(r, 6, 3),
        ("LeakyRelu", {"alpha": 1.5}),
        random_dense(r, 6, 6),
        ("Elu", {"alpha": 2.0}),
        random_dense(r, 4, 6),
        ("Selu", {}),
        random_dense(r, 1, 4),
    ],
    "softplus_softmax": lambda r: [
        random_dense(r, 6, 3, 4.0),
        ("Softplus", {}),
        random_dense(r, 3, 6, 4.0),
        ("Softmax", {}),
    ],
    "log_softmax": lambda r: [random_dense(r, 5, 3, 4.0), ("LogSoftmax", {})],
    "mid_softmax": lambda r: [
        random_dense(r, 5, 3, 4.0),
        ("Softmax", {}),
        random_dense(r, 2, 5, 4.0),
        ("Tanh", {}),
    ],
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_bound_is_certified(name, rng):
    layers = NETWORKS[name](rng)
    data = onnx_chain(layers, 3)
    for target in (0, 1) if name in ("tanh_sigmoid", "softplus_softmax", "mid_softmax") else (0,):
        model = gl.Model.from_onnx(data, target=target)
        assert model.engine == "native"
        L = theory.network_lipschitz_bound(model)
        X = rng.normal(scale=2.0, size=(4000, 3))
        Y = X + rng.normal(scale=rng.choice([0.01, 0.3, 3.0], size=(4000, 1)), size=(4000, 3))
        gap = np.abs(model(X) - model(Y))
        # float32 network: allow its rounding on top of the bound
        slack = 1e-5 * (1.0 + np.abs(model(X)))
        assert np.all(gap <= L * np.linalg.norm(X - Y, axis=1) + slack)
        # the largest observed slope is a lower bound on the true constant
        assert np.max(gap / np.linalg.norm(X - Y, axis=1)) <= L


def test_network_bound_is_exact_for_one_dense_layer(rng):
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    data = onnx_chain([("dense", W, b)], 4)
    for t in range(3):
        model = gl.Model.from_onnx(data, target=t)
        row = W.astype(np.float32).astype(np.float64)[t]
        assert theory.network_lipschitz_bound(model) == pytest.approx(
            np.linalg.norm(row), rel=1e-12
        )
    # with an element-wise activation after it, still the row norm times its constant
    data = onnx_chain([("dense", W, b), ("Sigmoid", {})], 4)
    model = gl.Model.from_onnx(data, target=2)
    assert theory.network_lipschitz_bound(model) == pytest.approx(
        0.25 * np.linalg.norm(W[2]), rel=1e-6
    )


def test_network_bound_needs_a_native_model():
    data = onnx_chain([("dense", np.ones((1, 2)), np.zeros(1))], 2)
    model = gl.Model.from_onnx(data, engine="onnxruntime")
    with pytest.raises(ValueError, match="native"):
        theory.network_lipschitz_bound(model)
