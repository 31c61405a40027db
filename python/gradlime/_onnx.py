"""ONNX graphs: parsed with the ``onnx`` package and run by the native network when they are a
feed-forward chain it supports, else through an onnxruntime session."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._validation import select_column

__all__ = ["NotNative", "OnnxGraph", "load_bytes", "onnxruntime_function", "parse", "select_column"]

MAX_FEATURES = 1 << 24  # a declared input wider than this is refused before anything is allocated
MAX_FIXED_BATCH = 1 << 16  # onnxruntime is fed whole blocks of a graph's fixed batch
MIN_OPSET = 7  # before it Gemm and Add broadcast by attributes; onnxruntime guarantees 7 and later

# ONNX TensorProto element types of real values -> the numpy dtype fed to onnxruntime.
_REAL_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}
_TYPE_NAMES = {
    1: "FLOAT",
    2: "UINT8",
    3: "INT8",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "STRING",
    9: "BOOL",
    10: "FLOAT16",
    11: "DOUBLE",
    12: "UINT32",
    13: "UINT64",
    16: "BFLOAT16",
}

# ONNX op -> native activation name, with its attribute defaults (ONNX operator specs).
_ACTIVATIONS: dict[str, tuple[str, float, float]] = {
    "Relu": ("relu", 0.0, 0.0),
    "LeakyRelu": ("leaky_relu", 0.01, 0.0),
    "Elu": ("elu", 1.0, 0.0),
    "Selu": ("selu", 1.67326319217681884765625, 1.05070102214813232421875),
    "Sigmoid": ("sigmoid", 0.0, 0.0),
    "Tanh": ("tanh", 0.0, 0.0),
    "Softplus": ("softplus", 0.0, 0.0),
}
_PASSTHROUGH = {"Identity", "Dropout", "Flatten"}
_SOFTMAX = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}
NATIVE_OPS = frozenset({"Gemm", "MatMul", "Add", *_ACTIVATIONS, *_PASSTHROUGH, *_SOFTMAX})


class NotNative(ValueError):
    """A valid graph that the native engine cannot run (onnxruntime can)."""


@dataclass
class OnnxGraph:
    data: bytes
    input_name: str
    n_features: int
    n_outputs: int | None
    point_shape: tuple[int, ...] = ()  # one input row's shape: (n_features,) or an image's
    input_dtype: Any = np.float32  # what onnxruntime is fed
    batch: int | None = None  # a batch dimension the graph fixes, else None
    network: Any = None  # _core.FeedForwardNetwork when the graph is native
    not_native: str | None = None  # why not, otherwise
    # The native chain as ("dense", W (out, in), b) and ("act", kind, alpha, gamma) entries, in
    # order; gl.theory.network_lipschitz_bound reads it.
    layers: list[tuple[Any, ...]] = field(default_factory=list)


def load_bytes(path_or_bytes: Any) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as fh:
            return fh.read()
    raise TypeError(
        f"from_onnx takes a file path or the model's bytes; got {type(path_or_bytes).__name__}"
    )


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading ONNX models needs the onnx package: pip install 'gradlime[onnx]'"
        ) from exc
    return onnx


def parse(data: bytes) -> OnnxGraph:
    """Validate the graph and, when it is a supported chain, build the native network."""
    onnx = _import_onnx()
    from onnx import numpy_helper

    try:
        model = onnx.load_model_from_string(data)
        # full_check runs ONNX's strict type and shape inference: a weight of another type than
        # the input, or a tensor of an unknown data type, is refused here by ONNX itself.
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # protobuf and checker errors have no common base
        raise ValueError(f"not a valid ONNX model: {exc}") from exc
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(
            f"the ONNX model uses opset {opset}; gradlime needs opset {MIN_OPSET} or later (earlier "
            "opsets broadcast by attributes, and onnxruntime does not guarantee them): convert it "
            f"with onnx.version_converter.convert_version(model, {MIN_OPSET}) or re-export it"
        )
    newest = onnx.defs.onnx_opset_version()
    if opset is not None and opset > newest:
        raise ValueError(
            f"the ONNX model uses opset {opset}, newer than the {newest} this onnx package knows: "
            "its operators' semantics are unknown here; upgrade onnx (and onnxruntime)"
        )
    graph = model.graph
    consts: dict[str, np.ndarray] = {}
    for t in graph.initializer:
        consts[t.name] = numpy_helper.to_array(t)
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(
            f"the ONNX graph must have one input and one output; it has {len(inputs)} inputs "
            f"and {len(graph.output)} outputs"
        )
    in_type = _real_type(inputs[0], "input")
    _real_type(graph.output[0], "output")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) < 2:
        raise ValueError(
            "the ONNX input must have shape (batch, features) or (batch, ...), e.g. images "
            f"(batch, C, H, W); it has rank {len(dims)}"
        )
    if not all(dim.HasField("dim_value") and dim.dim_value >= 1 for dim in dims[1:]):
        raise ValueError("the ONNX input's dimensions after the batch must be fixed numbers >= 1")
    shape = tuple(int(dim.dim_value) for dim in dims[1:])
    d = math.prod(shape)
    if dims[0].HasField("dim_value") and dims[0].dim_value < 1:
        raise ValueError(f"the ONNX input's batch dimension is fixed to {dims[0].dim_value} rows")
    if not 1 <= d <= MAX_FEATURES:
        raise ValueError(
            f"the ONNX input declares {d} features; gradlime accepts 1 to {MAX_FEATURES}"
        )
    out_dims = graph.output[0].type.tensor_type.shape.dim
    k = (
        int(out_dims[1].dim_value)
        if len(out_dims) == 2 and out_dims[1].HasField("dim_value")
        else None
    )
    g = OnnxGraph(
        data=data,
        input_name=inputs[0].name,
        n_features=d,
        n_outputs=k,
        point_shape=shape,
        input_dtype=_REAL_TYPES[in_type],
        batch=int(dims[0].dim_value) if dims[0].HasField("dim_value") else None,
    )
    try:
        if len(shape) != 1:
            raise NotNative(
                f"its input rows have shape {shape}; the native engine runs (batch, features) "
                "graphs"
            )
        if in_type != 1:
            raise NotNative(
                f"its input is {_TYPE_NAMES[in_type]}; the native engine runs FLOAT graphs"
            )
        g.network = _build_network(graph, consts, d, opset or 21, g.layers)
        g.n_outputs = g.network.output_dim
    except NotNative as exc:
        g.not_native = str(exc)
    return g


def _real_type(value_info: Any, which: str) -> int:
    """The element type of a graph input or output, refused unless it holds real numbers."""
    t = int(value_info.type.tensor_type.elem_type)
    if t not in _REAL_TYPES:
        raise ValueError(
            f"the ONNX {which} {value_info.name!r} has element type {_TYPE_NAMES.get(t, t)}; "
            "gradlime explains models of real-valued inputs and outputs (FLOAT, DOUBLE or FLOAT16)"
        )
    return t


def _constant(node: Any) -> np.ndarray:
    """The value of a Constant node, whichever of its attributes holds it."""
    from onnx import numpy_helper

    a = _attrs(node)
    if "value" in a:
        return np.asarray(numpy_helper.to_array(a["value"]))
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32)):
        if key in a:
            return np.asarray(a[key], dtype=dtype)
    for key in ("value_int", "value_ints"):
        if key in a:
            return np.asarray(a[key], dtype=np.int64)
    raise NotNative(
        f"node {node.name or 'Constant'}: a Constant given as {', '.join(a) or 'nothing'}"
    )


def _float_weight(c: np.ndarray, where: str) -> np.ndarray:
    """A weight or bias of the native float32 network, in float64 for the parser's sums."""
    if c.dtype != np.float32:
        raise NotNative(f"{where}: a {c.dtype} constant; the native engine runs float32 weights")
    return np.asarray(c, dtype=np.float64)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _build_network(
    graph: Any, consts: dict[str, np.ndarray], d: int, opset: int, layers: list[tuple[Any, ...]]
) -> Any:
    unsupported = sorted(
        {n.op_type for n in graph.node if n.op_type not in NATIVE_OPS | {"Constant"}}
    )
    if unsupported:
        raise NotNative(
            f"the native engine does not support the ONNX operator(s) {', '.join(unsupported)}"
        )
    net = _core.FeedForwardNetwork(d)
    width = d
    current = next(i.name for i in graph.input if i.name not in consts)
    pending: tuple[np.ndarray, np.ndarray] | None = None  # a dense layer waiting for its bias

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            net.add_dense(pending[0], pending[1])
            layers.append(("dense", pending[0], pending[1]))
            pending = None

    for node in graph.node:
        op, a = node.op_type, _attrs(node)
        if op == "Constant":
            consts[node.output[0]] = _constant(node)
            continue
        data_inputs = [x for x in node.input if x and x not in consts]
        if data_inputs != [current]:
            raise NotNative(
                f"node {node.name or op} ({op}) does not continue a single feed-forward chain"
            )
        if op in ("Gemm", "MatMul"):
            flush()
            W, b = _dense(node, op, a, consts, width)
            pending, width = (W, b), W.shape[0]
        elif op == "Add":
            other = _float_weight(
                consts[next(x for x in node.input if x != current)], f"node {node.name or op} (Add)"
            )
            if pending is not None and other.size not in (1, width):
                raise ValueError(f"Add bias of shape {other.shape} does not fit {width} outputs")
            if pending is None or other.ndim > 2:
                raise NotNative("Add is supported only as a bias right after a Gemm or MatMul")
            bias = _per_output(other, width, f"node {node.name or op} (Add)")
            pending = (pending[0], pending[1] + bias)
        elif op in _ACTIVATIONS:
            flush()
            kind, alpha, gamma = _ACTIVATIONS[op]
            alpha, gamma = float(a.get("alpha", alpha)), float(a.get("gamma", gamma))
            net.add_activation(kind, alpha, gamma)
            layers.append(("act", kind, alpha, gamma))
        elif op in _SOFTMAX:
            flush()
            axis = int(a.get("axis", -1 if opset >= 13 else 1))
            if axis not in (1, -1):
                raise NotNative(f"{op} over axis {axis}; the native engine supports the last axis")
            net.add_activation(_SOFTMAX[op])
            layers.append(("act", _SOFTMAX[op], 0.0, 0.0))
        elif op == "Flatten" and int(a.get("axis", 1)) != 1:
            raise NotNative("Flatten with axis != 1")
        current = node.output[0]
    flush()
    if current != graph.output[0].name:
        raise NotNative("the graph's output is not the end of its feed-forward chain")
    return net


def _per_output(c: np.ndarray, width: int, where: str) -> np.ndarray:
    """A bias added to every row of a (rows, width) output, as ONNX broadcasting adds it: shapes
    (), (1,), (width,), (1, 1) or (1, width). A (width, 1) column broadcasts down the batch instead
    (one value per row), which only fits a batch of `width` rows: not a per-output bias."""
    if c.ndim == 2 and c.shape[0] != 1:
        raise NotNative(
            f"{where}: a bias of shape {c.shape} broadcasts over the batch's rows, not its outputs"
        )
    return np.broadcast_to(c.reshape(-1), (width,)).astype(np.float64)


def _dense(
    node: Any, op: str, a: dict[str, Any], consts: dict[str, np.ndarray], width: int
) -> tuple[np.ndarray, np.ndarray]:
    """(weight (out, in), bias (out,)) of a Gemm or a MatMul, in float64."""
    if node.input[1] not in consts:
        raise NotNative(f"{op} with a non-constant weight")
    where = f"node {node.name or op} ({op})"
    B = _float_weight(consts[node.input[1]], where)
    if B.ndim != 2:
        raise ValueError(f"{op} weight must be 2-D; got shape {B.shape}")
    if op == "Gemm":
        if int(a.get("transA", 0)):
            raise NotNative("Gemm with transA=1")
        W = (B if int(a.get("transB", 0)) else B.T) * float(a.get("alpha", 1.0))
        bias = np.zeros(W.shape[0])
        if len(node.input) > 2 and node.input[2]:
            C = _float_weight(consts[node.input[2]], where)
            if C.size not in (1, W.shape[0]):
                raise ValueError(f"Gemm bias of shape {C.shape} does not fit {W.shape[0]} outputs")
            C = _per_output(C, W.shape[0], where)
            bias = bias + float(a.get("beta", 1.0)) * C
    else:
        W, bias = B.T, np.zeros(B.shape[1])
    if W.shape[1] != width:
        raise ValueError(f"{op} expects {W.shape[1]} inputs but the previous layer gives {width}")
    return np.ascontiguousarray(W), bias


def onnxruntime_function(g: OnnxGraph, target: int | None) -> Any:
    """f(A) -> (m,): column `target` of the model's output through an onnxruntime session."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(
            f"this ONNX graph needs onnxruntime ({g.not_native}): pip install 'gradlime[onnx]'"
        ) from exc
    if g.batch is not None and g.batch > MAX_FIXED_BATCH:
        raise ValueError(
            f"the ONNX graph fixes its batch to {g.batch} rows; onnxruntime would be fed blocks of "
            f"that many, and gradlime feeds it at most {MAX_FIXED_BATCH}: export the model with a "
            "dynamic batch dimension"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 4  # its errors reach the caller as ValueErrors
    try:
        session = ort.InferenceSession(
            g.data, sess_options=options, providers=["CPUExecutionProvider"]
        )
        rows = g.batch or 1
        probe = session.run(None, {g.input_name: np.zeros((rows, *g.point_shape), g.input_dtype)})[
            0
        ]
    except Exception as exc:
        raise ValueError(f"onnxruntime could not run this ONNX model: {exc}") from exc
    column = select_column(int(np.asarray(probe).reshape(rows, -1).shape[1]), target)

    def run(A: np.ndarray) -> np.ndarray:
        try:
            out = session.run(None, {g.input_name: A})[0]
        except Exception as exc:  # onnxruntime's errors have no common Python base
            raise ValueError(f"onnxruntime failed on a batch of shape {A.shape}: {exc}") from exc
        return np.asarray(out, dtype=np.float64).reshape(len(A), -1)[:, column]

    def f(A: np.ndarray) -> np.ndarray:
        A = np.asarray(A, dtype=g.input_dtype)
        if A.ndim >= 1 and A.size == len(A) * g.n_features:  # flat rows of an image graph too
            A = A.reshape(len(A), *g.point_shape)
        if g.batch is None or len(A) == g.batch:
            return run(A)
        # The graph fixes its batch: run blocks of that many rows, the last one padded.
        m = len(A)
        padded = np.zeros((-(-m // g.batch) * g.batch, *A.shape[1:]), dtype=A.dtype)
        padded[:m] = A
        blocks = [run(padded[i : i + g.batch]) for i in range(0, len(padded), g.batch)]
        return np.concatenate(blocks)[:m]

    return f
