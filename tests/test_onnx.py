"""gl.Model.from_onnx: native evaluation of ONNX feed-forward networks; the onnxruntime fallback.

Every expected answer is computed independently of gradlime: values by onnxruntime itself,
gradients by central finite differences of a float64 numpy re-implementation of the network
written here from the same weights, SmoothGrad of a linear network by the weights themselves.
"""

from __future__ import annotations

import io
import pathlib
import textwrap
import warnings
import zlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

import gradlime as gl
from conftest import onnx_net, printed_by_thread_count, stops_on_ctrl_c

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


# --------------------------------------------------------------------------------------------
# Supported operators: values and exact gradients
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", list(STYLES))
@pytest.mark.parametrize(
    "act", ACTIVATIONS, ids=["-".join([op, *map(str, a.values())]) for op, a in ACTIVATIONS]
)
def test_activation_chain_values_and_gradient(act, style):
    layers = mlp(act=act, style=style, seed=zlib.crc32(f"{act}{style}".encode()))
    X = points(5, m=12, seed=2, scale=1.5)
    check_native(layers, X, target=2)


@pytest.mark.parametrize("head", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [None, -1, 1])
@pytest.mark.parametrize("target", [0, 1, 2])
def test_softmax_heads_with_target(head, axis, target):
    attrs = {} if axis is None else {"axis": axis}
    layers = mlp(widths=(8, 6, 3), act=("Tanh", {}), head=(head, attrs), seed=3)
    X = points(5, m=10, seed=4)
    check_native(layers, X, target=target)


def test_softmax_targets_are_the_columns():
    layers = mlp(widths=(8, 6, 3), head=("Softmax", {}), seed=5)
    proto = build_onnx(layers, 5)
    X = points(5, m=7, seed=6)
    cols = np.stack([gl.Model.from_onnx(as_bytes(proto), target=t)(X) for t in range(3)], axis=1)
    np.testing.assert_allclose(cols, ort_forward(proto, X), rtol=RTOL_VALUES, atol=ATOL_VALUES)
    np.testing.assert_allclose(cols.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("target", [None, 0])
def test_sigmoid_head_with_one_output(target):
    layers = mlp(widths=(8, 6, 1), act=("Relu", {}), head=("Sigmoid", {}), seed=7)
    X = points(5, m=10, seed=8)
    m = check_native(layers, X, target=target)
    assert np.all((m(X) > 0) & (m(X) < 1))


def test_identity_flatten_dropout_are_accepted():
    rng = np.random.default_rng(9)
    layers = [
        {"op": "Identity"},
        {"op": "Flatten", "attrs": {"axis": 1}},
        dense(rng, 5, 8, transB=1),
        {"op": "Dropout"},
        {"op": "Tanh"},
        {"op": "Identity"},
        dense(rng, 8, 6, style="matmul"),
        {"op": "Dropout", "ratio": 0.3},
        {"op": "Elu"},
        {"op": "Flatten"},
        dense(rng, 6, 2),
        {"op": "Dropout"},
    ]
    X = points(5, m=9, seed=10)
    m = check_native(layers, X, target=1)
    assert m.engine == "native"


def test_numeric_batch_dimension():
    layers = mlp(widths=(8, 6, 2), seed=11)
    X = points(5, m=7, seed=12)
    proto = build_onnx(layers, 5, batch=7)
    check_native(layers, X, target=0, proto=proto)


def test_auto_picks_native_for_supported_graphs():
    m = gl.Model.from_onnx(as_bytes(build_onnx(mlp(seed=13), 5)), target=1)
    assert m.engine == "native"
    assert m.has_gradient


def test_path_and_bytes_give_identical_results(tmp_path):
    proto = build_onnx(mlp(act=("Selu", {}), style="gemm-scaled", seed=14), 5)
    path = tmp_path / "net.onnx"
    onnx.save(proto, str(path))
    X = points(5, m=20, seed=15)
    models = [
        gl.Model.from_onnx(as_bytes(proto), target=2),
        gl.Model.from_onnx(path.read_bytes(), target=2),
        gl.Model.from_onnx(str(path), target=2),
        gl.Model.from_onnx(pathlib.Path(path), target=2),
    ]
    ref = models[0]
    for m in models[1:]:
        assert m.engine == ref.engine == "native"
        assert m(X).tobytes() == ref(X).tobytes()
        assert m.gradient(X).tobytes() == ref.gradient(X).tobytes()
        a = gl.smoothgrad(m, X[:3], sigma=0.3, n_samples=200, seed=5)
        b = gl.smoothgrad(ref, X[:3], sigma=0.3, n_samples=200, seed=5)
        assert a.values.tobytes() == b.values.tobytes()
        assert a.stderr.tobytes() == b.stderr.tobytes()


def test_gemm_without_bias_then_add():
    # Gemm with no C, then the bias as a separate Add of a (1, out) constant
    rng = np.random.default_rng(40)
    W1 = rng.normal(size=(5, 7)).astype(np.float32)
    b1 = rng.normal(size=(1, 7)).astype(np.float32)
    W2 = rng.normal(size=(7, 2)).astype(np.float32)
    b2 = rng.normal(size=2).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "W1"], ["z"], alpha=0.9),
        helper.make_node("Add", ["z", "b1"], ["zb"]),
        helper.make_node("Softplus", ["zb"], ["h"]),
        helper.make_node("Gemm", ["h", "W2"], ["g"]),
        helper.make_node("Add", ["g", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nobias",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[
            numpy_helper.from_array(W1, "W1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(W2, "W2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    proto = make_model(graph)
    layers = [
        {"op": "dense", "W": W1, "b": b1[0], "alpha": 0.9},
        {"op": "Softplus"},
        {"op": "dense", "W": W2, "b": b2},
    ]
    X = points(5, m=8, seed=41)
    check_native(layers, X, target=0, proto=proto)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_native_batch_size_does_not_change_a_bit(batch_size):
    data = as_bytes(build_onnx(mlp(act=("Elu", {}), head=("Softmax", {}), seed=42), 5))
    X = points(5, m=4, seed=43)
    kw = {"sigma": 0.5, "n_samples": 300, "seed": 10}
    ref = gl.explain(gl.Model.from_onnx(data, target=1), X, **kw)
    got = gl.explain(gl.Model.from_onnx(data, target=1, batch_size=batch_size), X, **kw)
    for name in ref:
        assert got[name].values.tobytes() == ref[name].values.tobytes()
        assert got[name].stderr.tobytes() == ref[name].stderr.tobytes()


THREADS_SCRIPT = textwrap.dedent("""
    import hashlib, sys, numpy as np, gradlime as gl
    m = gl.Model.from_onnx(sys.argv[1], target=1, batch_size=333)
    X = np.random.default_rng(0).normal(size=(16, 5))
    E = gl.explain(m, X, sigma=0.5, n_samples=2000, seed=11)
    E["fused"] = gl.smoothgrad(m, X, sigma=0.5, n_samples=1000, seed=12)
    h = hashlib.sha256()
    for k in sorted(E):
        h.update(E[k].values.tobytes()); h.update(E[k].stderr.tobytes())
    h.update(m(X).tobytes()); h.update(m.gradient(X).tobytes())
    print(m.engine, gl._core.max_threads(), h.hexdigest())
""")


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_native_thread_count_does_not_change_a_bit(tmp_path):
    path = tmp_path / "net.onnx"
    onnx.save(build_onnx(mlp(widths=(16, 16, 3), act=("Tanh", {}), seed=44), 5), str(path))
    out = printed_by_thread_count(THREADS_SCRIPT, str(path))
    assert out["1"][0] == "native"
    assert out["1"] == out["2"]


# SmoothGrad of a native network runs fused (drawing, network and sums block by block, points in
# parallel); it must give the batched path's bits for every noise kernel and every block tail.
NOISES = {
    "isotropic": {"stddev": np.full(5, 0.5)},
    "diagonal": {"stddev": np.array([0.1, 0.5, 1.0, 2.0, 0.3])},
    "full": {"cov": 0.2 * np.eye(5) + 0.1},
    "uniform": {"stddev": np.full(5, 0.7), "kernel": "uniform"},
    "laplace": {"stddev": np.full(5, 0.4), "kernel": "laplace"},
}


@pytest.mark.parametrize("noise", list(NOISES))
@pytest.mark.parametrize("n_samples", [7, 63, 64, 65, 300])
@pytest.mark.parametrize("kept_normals_bytes", [0, 1 << 20])
def test_fused_native_network_has_the_batched_bits(noise, n_samples, kept_normals_bytes):
    m = gl.Model.from_onnx(as_bytes(build_onnx(mlp(head=("Softmax", {}), seed=45), 5)), target=2)
    X = points(5, m=6, seed=46)
    gaussian = NOISES[noise].get("kernel", "gaussian") == "gaussian"
    kw = dict(
        NOISES[noise],
        smoothgrad=True,
        clime=gaussian,
        stein=gaussian,
        n_samples=n_samples,
        seed=13,
        network=m._network,
        target=2,
        kept_normals_bytes=kept_normals_bytes,
    )
    fused = gl._core.run(X, None, None, **kw)
    batched = gl._core.run(X, None, None, fused_network=False, batch_rows=100, **kw)
    assert (
        sorted(fused)
        == sorted(batched)
        == (["clime", "samples", "smoothgrad", "stein"] if gaussian else ["samples", "smoothgrad"])
    )
    assert fused["samples"].tolist() == [n_samples] * len(X)
    for name in fused:
        for a, b in zip(fused[name], batched[name], strict=True):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert np.all(fused["smoothgrad"][1] > 0)


@pytest.mark.parametrize("methods", [("smoothgrad",), ("clime", "stein"), ("smoothgrad", "stein")])
def test_fused_and_batched_report_the_same_non_finite_output(methods):
    # z = 1e38 x overflows float32 where x > 3.4: the softmax then gives NaN, and so does the gradient
    W = np.array([[1e38, 0.0]], dtype=np.float32)
    layers = [
        {"op": "dense", "W": W, "b": np.zeros(2, np.float32), "style": "gemm"},
        {"op": "Softmax", "attrs": {}},
    ]
    m = gl.Model.from_onnx(as_bytes(build_onnx(layers, 1)), target=0)
    X = np.array([[0.0], [1.0], [3.0], [0.5]])
    kw = {
        "stddev": np.full(1, 0.5),
        "n_samples": 200,
        "seed": 1,
        "network": m._network,
        "target": 0,
    }
    kw.update(dict.fromkeys(methods, True))
    kind = "value" if "clime" in methods or "stein" in methods else "gradient"
    messages = []
    for fused in (True, False):
        with pytest.raises(
            ValueError, match=rf"non-finite {kind} at point 2 \(perturbation sample"
        ) as e:
            gl._core.run(X, None, None, fused_network=fused, **kw)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


# --------------------------------------------------------------------------------------------
# target
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["auto", "native", "onnxruntime"])
def test_target_required_for_several_outputs(engine):
    proto = build_onnx(mlp(widths=(8, 6, 3), seed=16), 5)
    with pytest.raises(ValueError, match="target"):
        gl.Model.from_onnx(as_bytes(proto), engine=engine)


@pytest.mark.parametrize("engine", ["auto", "native", "onnxruntime"])
@pytest.mark.parametrize("target", [3, 100, -4])
def test_target_out_of_range(engine, target):
    proto = build_onnx(mlp(widths=(8, 6, 3), seed=16), 5)
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(proto), target=target, engine=engine)


def test_unknown_engine():
    proto = build_onnx(mlp(widths=(8, 6, 1), seed=16), 5)
    with pytest.raises(ValueError, match="engine"):
        gl.Model.from_onnx(as_bytes(proto), engine="tensorflow")


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


# --------------------------------------------------------------------------------------------
# Explanations of native ONNX models
# --------------------------------------------------------------------------------------------


def test_explain_smoothgrad_and_clime_agree():
    # Paper 1, Theorem 1: SmoothGrad, C-LIME and Stein estimate the same vector E[grad f(a)].
    layers = mlp(d=5, widths=(10, 10, 2), act=("Elu", {}), head=("Softmax", {}), seed=24)
    m = gl.Model.from_onnx(as_bytes(build_onnx(layers, 5)), target=1)
    X = points(5, m=4, seed=25)
    E = gl.explain(m, X, sigma=0.5, n_samples=4000, seed=7)
    sg, cl, st = E["smoothgrad"], E["clime"], E["stein"]
    for other in (cl, st):
        se = np.sqrt(sg.stderr**2 + other.stderr**2)
        assert np.all(np.abs(sg.values - other.values) <= 5 * se + 1e-12)


def test_native_smoothgrad_matches_the_reference_model_on_the_same_draws():
    layers = mlp(act=("Tanh", {}), style="gemm-scaled", seed=26)
    m = gl.Model.from_onnx(as_bytes(build_onnx(layers, 5)), target=0)
    ref = gl.Model(
        lambda A: reference_forward(layers, A)[:, 0],
        grad=lambda A: finite_difference_gradient(layers, A, 0),
    )
    X = points(5, m=3, seed=27)
    kw = {"sigma": 0.5, "n_samples": 500, "seed": 8}
    a, b = gl.smoothgrad(m, X, **kw), gl.smoothgrad(ref, X, **kw)
    np.testing.assert_allclose(a.values, b.values, rtol=RTOL_GRAD, atol=ATOL_GRAD)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-3, atol=ATOL_GRAD)


def test_smoothgrad_of_a_linear_network_is_its_weights():
    rng = np.random.default_rng(28)
    layers = [
        dense(rng, 6, 4, alpha=0.5, beta=2.0, transB=1),
        dense(rng, 4, 3, style="matmul"),
        dense(rng, 3, 2, alpha=1.25, transB=0),
    ]
    m = gl.Model.from_onnx(as_bytes(build_onnx(layers, 6)), target=1)
    w = 0.5 * layers[0]["W"].astype(np.float64)
    w = w @ layers[1]["W"].astype(np.float64)
    w = 1.25 * (w @ layers[2]["W"].astype(np.float64))[:, 1]
    X = points(6, m=5, seed=29, scale=3.0)
    E = gl.smoothgrad(m, X, sigma=0.7, n_samples=300, seed=9)
    np.testing.assert_allclose(E.values, np.broadcast_to(w, X.shape), rtol=1e-5, atol=1e-6)
    assert np.all(E.stderr <= 1e-6 * (1 + np.abs(w)))


# --------------------------------------------------------------------------------------------
# Malformed inputs: an exception, never a crash
# --------------------------------------------------------------------------------------------


def test_random_bytes():
    data = np.random.default_rng(30).bytes(4096)
    with pytest.raises((ValueError, TypeError)):
        gl.Model.from_onnx(data)


def test_empty_bytes():
    # parses as an empty ModelProto: no graph, no input
    with pytest.raises((ValueError, TypeError)):
        gl.Model.from_onnx(b"")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_model_file(tmp_path, fraction):
    data = as_bytes(build_onnx(mlp(widths=(8, 6, 1), seed=31), 5))
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises((ValueError, TypeError)):
        gl.Model.from_onnx(str(path))
    with pytest.raises((ValueError, TypeError)):
        gl.Model.from_onnx(data[: int(len(data) * fraction)])


def test_missing_path(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError)):
        gl.Model.from_onnx(str(tmp_path / "does-not-exist.onnx"))
    with pytest.raises((FileNotFoundError, ValueError)):
        gl.Model.from_onnx(tmp_path / "does-not-exist.onnx")


@pytest.mark.parametrize("obj", [12345, 3.5, None, ["net.onnx"], {"model": b""}, object()])
def test_not_bytes_nor_path(obj):
    with pytest.raises(TypeError):
        gl.Model.from_onnx(obj)


@pytest.mark.parametrize("engine", ["auto", "native"])
@pytest.mark.parametrize(
    "in_shape", [["N", 2, 3], [6], ["N", 1, 6]], ids=["rank3", "rank1", "rank3-singleton"]
)
def test_input_of_wrong_rank(engine, in_shape):
    layers = mlp(d=6, widths=(4, 1), seed=32)
    proto = build_onnx(layers, 6, in_shape=in_shape)
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(proto), engine=engine)


@pytest.mark.parametrize("engine", ["auto", "native"])
@pytest.mark.parametrize("width", [10**12, 2**62])
def test_huge_declared_input_dimension(engine, width):
    # an activation-only chain has no weights to contradict the width: nothing but the declared
    # input shape says how big a row is
    nodes = [helper.make_node("Sigmoid", ["x"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])],
    )
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(make_model(graph)), target=0, engine=engine)
    # and with a (contradicting) weight matrix
    rng = np.random.default_rng(33)
    proto = build_onnx([dense(rng, 4, 1)], 4, in_shape=["N", width])
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(proto), engine=engine)


@pytest.mark.parametrize("engine", ["auto", "native"])
@pytest.mark.parametrize("style", ["gemm-default", "gemm-transB", "matmul-add"])
def test_weights_that_do_not_chain(engine, style):
    layers = mlp(d=5, widths=(8, 6, 1), style=style, seed=34)
    rng = np.random.default_rng(35)
    # second dense layer expects 7 inputs, the first produces 8
    layers[2]["W"] = (rng.normal(size=(7, 6))).astype(np.float32)
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(build_onnx(layers, 5)), engine=engine)


@pytest.mark.parametrize("engine", ["auto", "native"])
def test_bias_of_wrong_length(engine):
    layers = mlp(d=5, widths=(8, 6, 1), style="matmul-add", seed=36)
    layers[0]["b"] = np.zeros(7, np.float32)
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(build_onnx(layers, 5)), engine=engine)


@pytest.mark.parametrize("engine", ["auto", "native"])
def test_declared_width_contradicts_first_weights(engine):
    layers = mlp(d=5, widths=(8, 6, 1), seed=37)
    proto = build_onnx(layers, 5, in_shape=["N", 4])
    with pytest.raises(ValueError):  # noqa: PT011 (any wording)
        gl.Model.from_onnx(as_bytes(proto), engine=engine)


@pytest.mark.parametrize("engine", ["native", "onnxruntime"])
def test_evaluating_on_points_of_the_wrong_shape(engine):
    m = gl.Model.from_onnx(as_bytes(build_onnx(mlp(widths=(8, 6, 1), seed=38), 5)), engine=engine)
    for bad in (np.zeros((3, 4)), np.zeros((3, 6)), np.zeros((2, 3, 5))):
        with pytest.raises(ValueError):  # noqa: PT011 (any wording)
            m(bad)
    if engine == "native":
        for bad in (np.zeros((3, 4)), np.zeros((2, 3, 5))):
            with pytest.raises(ValueError):  # noqa: PT011 (any wording)
                m.gradient(bad)


@pytest.mark.parametrize("engine", ["native", "onnxruntime"])
def test_explaining_points_of_the_wrong_width(engine):
    m = gl.Model.from_onnx(as_bytes(build_onnx(mlp(widths=(8, 6, 1), seed=45), 5)), engine=engine)
    for bad in (np.zeros((2, 4)), np.zeros((2, 6))):
        for method in (gl.clime, gl.stein):
            with pytest.raises(ValueError):  # noqa: PT011 (any wording)
                method(m, bad, n_samples=50)


# --------------------------------------------------------------------------------------------
# A network exported by torch (only where torch is installed)
# --------------------------------------------------------------------------------------------


def test_torch_exported_elu_mlp():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 12),
        torch.nn.ELU(),
        torch.nn.Linear(12, 8),
        torch.nn.ELU(alpha=0.5),
        torch.nn.Linear(8, 3),
    ).eval()
    buf = io.BytesIO()
    args = (torch.zeros(2, 6),)
    kw = {
        "input_names": ["x"],
        "output_names": ["y"],
        "dynamic_axes": {"x": {0: "N"}, "y": {0: "N"}},
        "opset_version": OPSET,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(net, args, buf, dynamo=False, **kw)
        except TypeError:  # older torch: no dynamo= keyword
            torch.onnx.export(net, args, buf, **kw)
    X = points(6, m=16, seed=39)
    with torch.no_grad():
        ref = net(torch.as_tensor(X, dtype=torch.float32)).numpy().astype(np.float64)
    for target in range(3):
        m = gl.Model.from_onnx(buf.getvalue(), target=target)
        assert m.engine == "native"
        np.testing.assert_allclose(m(X), ref[:, target], rtol=RTOL_VALUES, atol=ATOL_VALUES)


def test_ctrl_c_stops_a_native_call(tmp_path):
    """No Python runs per batch on the native path; the engine still checks for Ctrl-C."""
    path = tmp_path / "net.onnx"
    onnx.save(build_onnx(mlp(widths=(16, 16, 1), act=("Tanh", {}), seed=3), 5), str(path))
    assert stops_on_ctrl_c(path, "gl.smoothgrad(m, np.zeros((10**6, 5)), n_samples=10**4)")
    # A few points of 10^9 samples each: the fused path checks inside a point too.
    assert stops_on_ctrl_c(path, "gl.smoothgrad(m, np.zeros((4, 5)), n_samples=10**9)")


def test_a_column_bias_is_not_run_as_a_per_output_bias():
    """ONNX broadcasts a (width, 1) bias down the batch (one value per row); the native engine
    refuses it rather than add it per output, and engine="auto" hands the graph to onnxruntime."""
    W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    column = onnx_net(W, np.ones((3, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"a bias of shape \(3, 1\) broadcasts over the batch"):
        gl.Model.from_onnx(column, engine="native")
    assert gl.Model.from_onnx(column, target=0).engine == "onnxruntime"
    row = gl.Model.from_onnx(onnx_net(W, np.ones((1, 3), dtype=np.float32)), target=0)
    assert row.engine == "native"
    np.testing.assert_allclose(row(np.ones((2, 4))), np.ones(4) @ W[:, 0] + 1.0, rtol=1e-6)
