"""ONNX graphs the native engine does not run: the message naming why, and the onnxruntime fallback."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

import gradlime as gl
from onnx_graphs import (
    ATOL_VALUES,
    RTOL_VALUES,
    as_bytes,
    build_onnx,
    make_model,
    mlp,
    ort_forward,
    points,
)

# --------------------------------------------------------------------------------------------
# Unsupported operators: the message, and the onnxruntime fallback
# --------------------------------------------------------------------------------------------


def cos_graph(seed=17, d=4, hidden=5, with_mul=False):
    """x -> Gemm -> Cos [-> Mul by a constant] -> Gemm -> y (1 output), and its float64 forward."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(d, hidden)).astype(np.float32)
    b1 = rng.normal(size=hidden).astype(np.float32)
    W2 = rng.normal(size=(hidden, 1)).astype(np.float32)
    b2 = rng.normal(size=1).astype(np.float32)
    s = np.float32(0.7)
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z"]),
        helper.make_node("Cos", ["z"], ["c"]),
    ]
    inits = [
        numpy_helper.from_array(W1, "W1"),
        numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(W2, "W2"),
        numpy_helper.from_array(b2, "b2"),
    ]
    last = "c"
    if with_mul:
        nodes.append(helper.make_node("Mul", ["c", "s"], ["cs"]))
        inits.append(numpy_helper.from_array(np.array([s], np.float32), "s"))
        last = "cs"
    nodes.append(helper.make_node("Gemm", [last, "W2", "b2"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "cosnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )

    def f64(A):
        c = np.cos(np.asarray(A, np.float64) @ W1.astype(np.float64) + b1)
        if with_mul:
            c = c * float(s)
        return (c @ W2.astype(np.float64) + b2)[:, 0]

    return make_model(graph), f64


def mul_graph(seed=18, d=4):
    """x -> Gemm -> Mul(constant) -> Gemm -> y."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(size=(d, 3)).astype(np.float32), "W1"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "s"),
        numpy_helper.from_array(rng.normal(size=(3, 1)).astype(np.float32), "W2"),
        numpy_helper.from_array(rng.normal(size=1).astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z"]),
        helper.make_node("Mul", ["z", "s"], ["zs"]),
        helper.make_node("Gemm", ["zs", "W2", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mulnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    return make_model(graph)


def conv_graph(seed=19, d=6):
    """x [N, d] -> Reshape [N, 1, d] -> Conv (1 channel, kernel 3) -> Flatten -> Gemm -> y."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(np.array([-1, 1, d], np.int64), "shape"),
        numpy_helper.from_array(rng.normal(size=(1, 1, 3)).astype(np.float32), "K"),
        numpy_helper.from_array(rng.normal(size=(d - 2, 1)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=1).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Conv", ["r", "K"], ["c"]),
        helper.make_node("Flatten", ["c"], ["fl"], axis=1),
        helper.make_node("Gemm", ["fl", "W", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    return make_model(graph)


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: cos_graph()[0], ["Cos"]),
        (mul_graph, ["Mul"]),
        (conv_graph, ["Conv"]),
        (lambda: cos_graph(with_mul=True)[0], ["Cos", "Mul"]),
    ],
    ids=["Cos", "Mul", "Conv", "Cos+Mul"],
)
def test_native_names_the_unsupported_ops(build, names):
    data = as_bytes(build())
    with pytest.raises(ValueError, match=names[0]) as info:
        gl.Model.from_onnx(data, engine="native")
    for name in names:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "build", [lambda: cos_graph()[0], mul_graph, conv_graph], ids=["Cos", "Mul", "Conv"]
)
def test_auto_falls_back_to_onnxruntime(build):
    proto = build()
    m = gl.Model.from_onnx(as_bytes(proto))
    assert m.engine == "onnxruntime"
    assert not m.has_gradient
    X = points(proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value, m=8, seed=20)
    v = m(X)
    assert v.dtype == np.float64
    assert v.shape == (8,)
    np.testing.assert_allclose(v, ort_forward(proto, X)[:, 0], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="gradient"):
        m.gradient(X)


def test_fallback_model_explains_without_gradient():
    proto, f64 = cos_graph()
    m = gl.Model.from_onnx(as_bytes(proto))
    assert m.engine == "onnxruntime"
    X = points(4, m=3, seed=21)
    kw = {"sigma": 0.4, "n_samples": 800, "seed": 6}
    with pytest.raises(ValueError, match="gradient"):
        gl.smoothgrad(m, X, **kw)
    # Same seed, same draws: the only difference from the float64 reference is float32 rounding.
    for method in (gl.clime, gl.stein):
        got = method(m, X, **kw)
        ref = method(gl.Model(f64), X, **kw)
        assert got.values.shape == (3, 4)
        assert np.all(np.isfinite(got.values))
        assert np.all(got.stderr > 0)
        np.testing.assert_allclose(got.values, ref.values, rtol=1e-3, atol=1e-4)


def test_forced_onnxruntime_agrees_with_native():
    proto = build_onnx(mlp(widths=(8, 6, 2), act=("Elu", {}), head=("Softmax", {}), seed=22), 5)
    data = as_bytes(proto)
    nat = gl.Model.from_onnx(data, target=1, engine="native")
    rt = gl.Model.from_onnx(data, target=1, engine="onnxruntime")
    assert nat.engine == "native"
    assert rt.engine == "onnxruntime"
    assert not rt.has_gradient
    X = points(5, m=4, seed=23)
    np.testing.assert_allclose(rt(X), nat(X), rtol=RTOL_VALUES, atol=ATOL_VALUES)
    with pytest.raises(ValueError, match="gradient"):
        gl.smoothgrad(rt, X, sigma=0.5, n_samples=100)
    for method in (gl.clime, gl.stein):
        # independent draws: agreement within 5 combined standard errors
        a = method(nat, X, sigma=0.5, n_samples=2000, seed=1)
        b = method(rt, X, sigma=0.5, n_samples=2000, seed=2)
        se = np.sqrt(a.stderr**2 + b.stderr**2)
        assert np.all(np.abs(a.values - b.values) <= 5 * se + 1e-12)
        # same draws: equal up to float32 rounding of the values
        c = method(rt, X, sigma=0.5, n_samples=2000, seed=1)
        np.testing.assert_allclose(c.values, a.values, rtol=1e-3, atol=1e-5)


def image_graph(flat, seed=20):
    """x [N, 1, 2, 3] (or [N, 6] reshaped to it, with `flat`) -> Conv (2x2) -> Flatten -> Gemm."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(np.array([-1, 1, 2, 3], np.int64), "shape"),
        numpy_helper.from_array(rng.normal(size=(2, 1, 2, 2)).astype(np.float32), "K"),
        numpy_helper.from_array(rng.normal(size=(4, 1)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=1).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Conv", ["r" if flat else "x", "K"], ["c"]),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Flatten", ["t"], ["fl"], axis=1),
        helper.make_node("Gemm", ["fl", "W", "b"], ["y"]),
    ]
    if not flat:
        nodes, inits = nodes[1:], inits[1:]
    graph = helper.make_graph(
        nodes,
        "imagenet",
        [
            helper.make_tensor_value_info(
                "x", TensorProto.FLOAT, ["N", 6] if flat else ["N", 1, 2, 3]
            )
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    return as_bytes(make_model(graph))


def test_image_inputs_run_through_onnxruntime():
    # A graph of (N, 1, 2, 3) images explains (N, 1, 2, 3) points as the same graph reading flat
    # rows explains (N, 6) ones: the same values, the same attributions in the points' shape.
    image, flat = gl.Model.from_onnx(image_graph(False)), gl.Model.from_onnx(image_graph(True))
    assert image.engine == "onnxruntime"
    assert image.n_features == 6
    X = np.random.default_rng(3).normal(size=(4, 1, 2, 3))
    np.testing.assert_array_equal(image(X.reshape(4, 6)), flat(X.reshape(4, 6)))
    for method in (gl.clime, gl.lime, gl.kernel_shap):
        E, F = method(image, X, n_samples=64), method(flat, X.reshape(4, 6), n_samples=64)
        assert E.values.shape == X.shape
        np.testing.assert_array_equal(E.values.reshape(4, 6), F.values)
    with pytest.raises(ValueError, match=r"input rows have shape \(1, 2, 3\)"):
        gl.Model.from_onnx(image_graph(False), engine="native")
    with pytest.raises(ValueError, match="no exact gradient"):
        gl.smoothgrad(image, X, n_samples=8)
