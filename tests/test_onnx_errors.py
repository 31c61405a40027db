"""Malformed or out-of-scope ONNX files: a clear exception naming what is wrong, never a crash or a
result that differs from ONNX's semantics."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

import gradlime as gl
from conftest import onnx_net
from onnx_graphs import (
    OPSET,
    as_bytes,
    build_onnx,
    dense,
    make_model,
    mlp,
)

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


# --------------------------------------------------------------------------------------------
# ONNX's own semantics: element types, opsets, Constant attributes, fixed batch dimensions
# --------------------------------------------------------------------------------------------


def _graph(nodes, inits, *, in_type=TensorProto.FLOAT, out_type=None, batch="N", opset=OPSET):
    """x (batch, 3) -> nodes -> y (batch, 1)."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", in_type, [batch, 3])],
        [helper.make_tensor_value_info("y", in_type if out_type is None else out_type, [batch, 1])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    return model.SerializeToString()


W3 = np.array([[0.5], [-1.0], [2.0]], dtype=np.float32)
X3 = np.random.default_rng(50).normal(size=(5, 3))


@pytest.mark.parametrize(
    "attrs", [{"value_float": 0.25}, {"value_floats": [0.25]}], ids=["value_float", "value_floats"]
)
@pytest.mark.parametrize("engine", ["native", "onnxruntime"])
def test_a_constant_bias_in_any_of_its_attribute_forms(attrs, engine):
    nodes = [
        helper.make_node("Constant", [], ["b"], **attrs),
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ]
    m = gl.Model.from_onnx(_graph(nodes, [numpy_helper.from_array(W3, "W")]), engine=engine)
    np.testing.assert_allclose(m(X3), X3 @ W3[:, 0] + 0.25, rtol=1e-6)


def test_an_initializer_of_unknown_data_type():
    b = numpy_helper.from_array(np.ones(1, np.float32), "b")
    b.data_type = 99
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ]
    with pytest.raises(ValueError, match=r"not a valid ONNX model: .*data type 99"):
        gl.Model.from_onnx(_graph(nodes, [numpy_helper.from_array(W3, "W"), b]))


@pytest.mark.parametrize("weight", [np.int64, np.float64])
def test_a_weight_of_another_type_than_the_input(weight):
    """ONNX binds MatMul's inputs to one type; its type inference refuses the graph."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
    with pytest.raises(ValueError, match=r"not a valid ONNX model: .*inconsistent type"):
        gl.Model.from_onnx(_graph(nodes, [numpy_helper.from_array(W3.astype(weight), "W")]))


@pytest.mark.parametrize(
    ("in_type", "out_type", "which"),
    [
        (TensorProto.INT64, TensorProto.INT64, "input 'x' has element type INT64"),
        (TensorProto.INT32, TensorProto.INT32, "input 'x' has element type INT32"),
        (TensorProto.FLOAT, TensorProto.INT64, "output 'y' has element type INT64"),
    ],
)
def test_inputs_and_outputs_that_are_not_real(in_type, out_type, which):
    dtype = {TensorProto.INT64: np.int64, TensorProto.INT32: np.int32}.get(in_type, np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"])]
    if out_type != in_type:
        nodes.append(helper.make_node("Cast", ["m"], ["y"], to=out_type))
    else:
        nodes[0].output[0] = "y"
    proto = _graph(
        nodes, [numpy_helper.from_array(W3.astype(dtype), "W")], in_type=in_type, out_type=out_type
    )
    for engine in ("auto", "native", "onnxruntime"):
        with pytest.raises(ValueError, match=which):
            gl.Model.from_onnx(proto, engine=engine)


def test_a_double_graph_runs_in_double_through_onnxruntime():
    """The native network is float32: it does not run a DOUBLE graph, which onnxruntime runs
    exactly (to float64 rounding, where float32 would be off by ~1e-7)."""
    W = np.array([[0.1], [1.0 / 3.0], [np.pi]])
    proto = _graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        [numpy_helper.from_array(W, "W")],
        in_type=TensorProto.DOUBLE,
    )
    with pytest.raises(ValueError, match="its input is DOUBLE; the native engine runs FLOAT"):
        gl.Model.from_onnx(proto, engine="native")
    m = gl.Model.from_onnx(proto)
    assert m.engine == "onnxruntime"
    np.testing.assert_allclose(m(X3), X3 @ W[:, 0], rtol=1e-15)


@pytest.mark.parametrize("opset", [1, 6])
def test_opsets_before_7_are_refused(opset):
    proto = _graph([helper.make_node("MatMul", ["x", "W"], ["y"])], [], opset=opset)
    # an initializer before IR 4 must also be a graph input; keep W as a Constant instead
    model = onnx.load_model_from_string(proto)
    model.graph.node.insert(
        0, helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(W3, "W"))
    )
    with pytest.raises(ValueError, match=f"uses opset {opset}; gradlime needs opset 7 or later"):
        gl.Model.from_onnx(model.SerializeToString())


@pytest.mark.parametrize("batch", [1, 4])
def test_a_graph_that_fixes_its_batch_runs_in_blocks_of_that_batch(batch):
    """A graph exported with a fixed batch runs on any number of rows: onnxruntime gets blocks of
    `batch` rows (the last one padded), the native engine every row as ONNX would."""
    cos = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Cos", ["m"], ["y"])]
    expected = np.cos(X3 @ W3[:, 0].astype(np.float64))
    m = gl.Model.from_onnx(_graph(cos, [numpy_helper.from_array(W3, "W")], batch=batch))
    assert m.engine == "onnxruntime"
    np.testing.assert_allclose(m(X3), expected, rtol=1e-5, atol=1e-6)
    linear = _graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        [numpy_helper.from_array(W3, "W")],
        batch=batch,
    )
    for engine in ("native", "onnxruntime"):
        np.testing.assert_allclose(
            gl.Model.from_onnx(linear, engine=engine)(X3), X3 @ W3[:, 0], rtol=1e-6
        )


def test_onnxruntime_failing_on_a_batch_is_a_value_error():
    """A graph that reshapes to one row runs on one row (the probe) and fails on five inside
    onnxruntime: its error comes back as a ValueError saying which batch."""
    shape = numpy_helper.from_array(np.array([1, 3], np.int64), "shape")
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "W"], ["y"]),
    ]
    m = gl.Model.from_onnx(_graph(nodes, [shape, numpy_helper.from_array(W3, "W")]))
    np.testing.assert_allclose(m(X3[:1]), X3[:1] @ W3[:, 0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"onnxruntime failed on a batch of shape \(5, 3\)"):
        m(X3)


@pytest.mark.parametrize(
    ("batch", "engine", "match"),
    [
        (0, "auto", "batch dimension is fixed to 0 rows"),
        (2**62, "onnxruntime", "fixes its batch to 4611686018427387904 rows"),
    ],
)
def test_a_fixed_batch_that_cannot_be_fed(batch, engine, match):
    """Found by the ONNX fuzz suite: a batch fixed to 0 rows, or to more than can be fed."""
    proto = _graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], [numpy_helper.from_array(W3, "W")]
    )
    model = onnx.load_model_from_string(proto)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = batch
    with pytest.raises(ValueError, match=match):
        gl.Model.from_onnx(model.SerializeToString(), engine=engine)


def test_an_opset_newer_than_onnx_knows():
    """Found by the ONNX fuzz suite: opset 29's operators may mean anything; the native engine
    ran it as today's."""
    newest = onnx.defs.onnx_opset_version()
    proto = _graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        [numpy_helper.from_array(W3, "W")],
        opset=newest + 1,
    )
    with pytest.raises(ValueError, match=f"uses opset {newest + 1}, newer than the {newest}"):
        gl.Model.from_onnx(proto)
