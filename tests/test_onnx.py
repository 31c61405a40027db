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
from conftest import printed_by_thread_count, stops_on_ctrl_c
from onnx_graphs import (
    ACTIVATIONS,
    ATOL_GRAD,
    ATOL_VALUES,
    OPSET,
    RTOL_GRAD,
    RTOL_VALUES,
    STYLES,
    as_bytes,
    build_onnx,
    check_native,
    dense,
    finite_difference_gradient,
    make_model,
    mlp,
    ort_forward,
    points,
    reference_forward,
)

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
