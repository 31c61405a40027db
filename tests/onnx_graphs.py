"""ONNX graphs for the tests: a list of layers turned into an ONNX graph and into a float64 numpy
forward written here from the same weights (the independent reference)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

import gradlime as gl

OPSET = 17
RTOL_VALUES, ATOL_VALUES = 1e-5, 1e-6  # native float32 vs onnxruntime float32
RTOL_GRAD, ATOL_GRAD = 1e-4, 1e-5  # native float32 gradient vs float64 finite differences


# --------------------------------------------------------------------------------------------
# Networks: a list of layers, turned into an ONNX graph and into a float64 numpy forward.
#
#   {"op": "dense", "W": (in, out) float32, "b": (out,) float32, "style": "gemm" | "matmul",
#    "alpha": float, "beta": float, "transB": 0 | 1}          y = alpha * x @ W + beta * b
#   {"op": "Relu" | "Elu" | ..., "attrs": {...}}               elementwise / row-wise
#   {"op": "Identity" | "Flatten" | "Dropout", "attrs": {...}, "ratio": float | None}
# --------------------------------------------------------------------------------------------

SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875


def _elu(z, alpha):
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _activation(op, attrs, z):
    if op == "Relu":
        return np.maximum(z, 0.0)
    if op == "LeakyRelu":
        return np.where(z >= 0, z, attrs.get("alpha", 0.01) * z)
    if op == "Elu":
        return _elu(z, attrs.get("alpha", 1.0))
    if op == "Selu":
        return attrs.get("gamma", SELU_GAMMA) * _elu(z, attrs.get("alpha", SELU_ALPHA))
    if op == "Sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if op == "Tanh":
        return np.tanh(z)
    if op == "Softplus":
        return np.logaddexp(0.0, z)
    if op == "Softmax":
        return _softmax(z)
    if op == "LogSoftmax":
        return _log_softmax(z)
    if op in ("Identity", "Flatten", "Dropout"):
        return z
    raise AssertionError(f"no reference for {op}")


def reference_forward(layers, X):
    """The network in float64, from the float32 weights: (m, d) -> (m, K)."""
    H = np.asarray(X, dtype=np.float64)
    for layer in layers:
        if layer["op"] == "dense":
            W = layer["W"].astype(np.float64)
            b = layer["b"].astype(np.float64)
            H = layer.get("alpha", 1.0) * (H @ W) + layer.get("beta", 1.0) * b
        else:
            H = _activation(layer["op"], layer.get("attrs", {}), H)
    return H


def finite_difference_gradient(layers, X, target, h=1e-5):
    """Central differences of column `target` of the float64 reference: (m, d)."""
    X = np.asarray(X, dtype=np.float64)
    G = np.empty_like(X)
    for k in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, k] = h
        G[:, k] = (
            reference_forward(layers, X + E)[:, target]
            - reference_forward(layers, X - E)[:, target]
        ) / (2 * h)
    return G


def output_width(layers, d):
    width = d
    for layer in layers:
        if layer["op"] == "dense":
            width = layer["W"].shape[1]
    return width


def build_onnx(layers, d, *, batch="N", out_dim=None, in_shape=None):
    """An ONNX ModelProto for `layers` (input "x" [batch, d] float32, output "y" [batch, K])."""
    nodes, inits = [], []
    cur = "x"
    for i, layer in enumerate(layers):
        op = layer["op"]
        out = f"h{i}"
        if op == "dense":
            W, b = layer["W"].astype(np.float32), layer["b"].astype(np.float32)
            if layer.get("style", "gemm") == "gemm":
                trans_b = int(layer.get("transB", 0))
                B = np.ascontiguousarray(W.T) if trans_b else W
                inits += [numpy_helper.from_array(B, f"B{i}"), numpy_helper.from_array(b, f"C{i}")]
                attrs = {}
                if "alpha" in layer:
                    attrs["alpha"] = float(layer["alpha"])
                if "beta" in layer:
                    attrs["beta"] = float(layer["beta"])
                if "transB" in layer:
                    attrs["transB"] = trans_b
                nodes.append(helper.make_node("Gemm", [cur, f"B{i}", f"C{i}"], [out], **attrs))
            else:
                assert layer.get("alpha", 1.0) == 1.0
                assert layer.get("beta", 1.0) == 1.0
                inits += [numpy_helper.from_array(W, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
                nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"]))
                nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [out]))
        else:
            inputs = [cur]
            if layer.get("ratio") is not None:
                inits.append(numpy_helper.from_array(np.array(layer["ratio"], np.float32), f"r{i}"))
                inputs.append(f"r{i}")
            nodes.append(helper.make_node(op, inputs, [out], **layer.get("attrs", {})))
        cur = out
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    K = output_width(layers, d) if out_dim is None else out_dim
    x_info = helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, in_shape if in_shape is not None else [batch, d]
    )
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, K])
    graph = helper.make_graph(nodes, "net", [x_info], [y_info], initializer=inits)
    return make_model(graph)


def make_model(graph):
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


def dense(rng, n_in, n_out, style="gemm", **kw):
    W = (rng.normal(size=(n_in, n_out)) * (1.5 / np.sqrt(n_in))).astype(np.float32)
    b = (rng.normal(size=n_out) * 0.5).astype(np.float32)
    return {"op": "dense", "W": W, "b": b, "style": style, **kw}


# The dense styles of the 2-hidden-layer networks: one dict of Gemm/MatMul settings per layer.
STYLES = {
    "gemm-default": [{}, {}, {}],
    "gemm-explicit": [{"alpha": 1.0, "beta": 1.0, "transB": 0}] * 3,
    "gemm-transB": [{"transB": 1}] * 3,
    "gemm-scaled": [
        {"alpha": 0.5, "beta": 2.0, "transB": 1},
        {"alpha": 1.7, "beta": 0.25, "transB": 0},
        {"alpha": 0.8, "beta": -1.5, "transB": 1},
    ],
    "matmul-add": [{"style": "matmul"}] * 3,
}

ACTIVATIONS = [
    ("Relu", {}),
    ("LeakyRelu", {}),
    ("LeakyRelu", {"alpha": 0.2}),
    ("Elu", {}),
    ("Elu", {"alpha": 0.6}),
    ("Selu", {}),
    ("Selu", {"alpha": 1.2, "gamma": 0.9}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Softplus", {}),
]


def mlp(d=5, widths=(8, 6, 3), act=("Elu", {}), style="gemm-default", head=None, seed=0):
    """d -> widths[0] -> act -> widths[1] -> act -> widths[2] [-> head]."""
    rng = np.random.default_rng(seed)
    settings = STYLES[style]
    layers, n_in = [], d
    for i, n_out in enumerate(widths):
        kw = dict(settings[i])
        layers.append(dense(rng, n_in, n_out, style=kw.pop("style", "gemm"), **kw))
        if i < len(widths) - 1:
            layers.append({"op": act[0], "attrs": dict(act[1])})
        n_in = n_out
    if head is not None:
        layers.append({"op": head[0], "attrs": dict(head[1])})
    return layers


def as_bytes(model_proto):
    return model_proto.SerializeToString()


def ort_forward(model_proto, X):
    sess = ort.InferenceSession(as_bytes(model_proto), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.asarray(sess.run(None, {name: np.asarray(X, np.float32)})[0], dtype=np.float64)


def points(d, m=12, seed=1, scale=1.0):
    return np.random.default_rng(seed).normal(size=(m, d)) * scale


def check_native(layers, X, target, *, proto=None, d=None):
    """Values vs onnxruntime, reference vs onnxruntime, gradient vs finite differences."""
    d = X.shape[1] if d is None else d
    proto = build_onnx(layers, d) if proto is None else proto
    m = gl.Model.from_onnx(as_bytes(proto), target=target, engine="native")
    assert m.engine == "native"
    assert m.has_gradient
    ref_ort = ort_forward(proto, X)[:, 0 if target is None else target]
    ref64 = reference_forward(layers, X)[:, 0 if target is None else target]
    # the numpy reference is the same network as the ONNX graph (else the gradient check is moot)
    np.testing.assert_allclose(ref64, ref_ort, rtol=1e-4, atol=1e-5)

    v = m(X)
    assert v.dtype == np.float64
    assert v.shape == (X.shape[0],)
    np.testing.assert_allclose(v, ref_ort, rtol=RTOL_VALUES, atol=ATOL_VALUES)

    g = m.gradient(X)
    assert g.dtype == np.float64
    assert g.shape == X.shape
    fd = finite_difference_gradient(layers, X, 0 if target is None else target)
    np.testing.assert_allclose(g, fd, rtol=RTOL_GRAD, atol=ATOL_GRAD)
    return m
