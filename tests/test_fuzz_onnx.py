"""ONNX mutation fuzzing: valid model files damaged in every way we could think of (bit flips,
truncation, inserted and deleted bytes, edited fields, hand-built bad graphs), each loaded and run
by gl.Model.from_onnx in a subprocess. Each case must give a ValueError or TypeError, or values
equal to onnxruntime's on the same file; never a crash, never another exception, never a value
that onnxruntime would not give.

The normal suite runs a fixed set of cases; ``pytest --fuzz-long`` twenty times as many.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper

import conftest
from onnx_graphs import OPSET, build_onnx, mlp

CASES = 600  # in the normal suite; x20 under --fuzz-long

# --- the valid models mutations start from ------------------------------------------------------


def _seeds():
    cos = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["m"]),
            helper.make_node("Cos", ["m"], ["y"]),
        ],
        "cos",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(3, 2) / 5, "W")],
    )
    return [
        build_onnx(mlp(d=3, widths=(4, 2), act=("Elu", {}), head=("Softmax", {})), 3),
        build_onnx(mlp(d=3, widths=(5, 3, 1), act=("Tanh", {}), style="matmul-add", seed=2), 3),
        build_onnx(
            mlp(d=3, widths=(4, 2), act=("LeakyRelu", {"alpha": 0.2}), style="gemm-scaled"), 3
        ),
        helper.make_model(cos, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8),
    ]


# --- mutations -----------------------------------------------------------------------------------

OPS = ["Gemm", "MatMul", "Add", "Relu", "Elu", "Softmax", "Cos", "Identity", "Mul", "Foo", ""]
ATTRS = {
    "alpha": [-1.0, 0.0, 1e38, float("nan")],
    "beta": [0.0, -2.0],
    "transB": [-1, 2, 1],
    "transA": [1],
    "axis": [-3, 0, 1, 5],
    "gamma": [0.0, -1.0],
}


def _edit(model, r):
    """One field edited in the parsed proto (or None when it has no such field)."""
    g = model.graph
    kind = r.integers(12)
    if kind == 0 and len(g.node):
        g.node[r.integers(len(g.node))].op_type = OPS[r.integers(len(OPS))]
    elif kind == 1 and len(g.node):
        node = g.node[r.integers(len(g.node))]
        name = list(ATTRS)[r.integers(len(ATTRS))]
        values = ATTRS[name]
        value = values[r.integers(len(values))]
        del node.attribute[:]
        node.attribute.append(helper.make_attribute(name, value))
    elif kind == 2 and len(g.node):
        del g.node[r.integers(len(g.node))]
    elif kind == 3 and len(g.node):
        g.node.append(g.node[r.integers(len(g.node))])
    elif kind == 4:
        info = (g.input if r.integers(2) else g.output)[0]
        dims = info.type.tensor_type.shape.dim
        if len(dims):
            dims[r.integers(len(dims))].dim_value = int(r.choice([0, 1, 7, 2**40, 2**62]))
    elif kind == 5:
        info = (g.input if r.integers(2) else g.output)[0]
        info.type.tensor_type.elem_type = int(r.choice([0, 2, 7, 9, 10, 11, 16, 99]))
    elif kind == 6 and len(g.initializer):
        t = g.initializer[r.integers(len(g.initializer))]
        if r.integers(2):
            t.dims[r.integers(len(t.dims))] = int(r.choice([0, 1, 3, 1000, 2**31]))
        else:
            t.data_type = int(r.choice([0, 6, 7, 11, 99]))
    elif kind == 7 and len(g.initializer):
        t = g.initializer[r.integers(len(g.initializer))]
        raw = numpy_helper.to_array(t).tobytes()
        t.ClearField("float_data")
        t.raw_data = raw[: int(r.integers(len(raw) + 1))] if r.integers(2) else raw + b"\0" * 8
    elif kind == 8 and len(g.node):
        node = g.node[r.integers(len(g.node))]
        target = node.input if r.integers(2) and len(node.input) else node.output
        if len(target):
            target[r.integers(len(target))] = str(r.choice(["x", "y", "nowhere", ""]))
    elif kind == 9:
        model.opset_import[0].version = int(r.integers(1, 30))
    elif kind == 10:
        model.ir_version = int(r.integers(0, 15))
    elif kind == 11 and len(g.initializer):
        del g.initializer[r.integers(len(g.initializer))]
    return model


def _bad_graphs():
    """Hand-built graphs that are wrong on purpose."""
    vi = helper.make_tensor_value_info
    W = numpy_helper.from_array(np.ones((3, 3), np.float32), "W")
    x, y = vi("x", TensorProto.FLOAT, ["N", 3]), vi("y", TensorProto.FLOAT, ["N", 3])
    graphs = {
        "cycle": helper.make_graph(
            [helper.make_node("MatMul", ["x", "y"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
            "g",
            [x],
            [y],
            [W],
        ),
        "no nodes": helper.make_graph([], "g", [x], [y]),
        "no output": helper.make_graph(
            [helper.make_node("MatMul", ["x", "W"], ["h"])], "g", [x], [], [W]
        ),
        "dangling": helper.make_graph(
            [helper.make_node("MatMul", ["x", "V"], ["y"])], "g", [x], [y], [W]
        ),
        "two inputs": helper.make_graph(
            [helper.make_node("Add", ["x", "z"], ["y"])],
            "g",
            [x, vi("z", TensorProto.FLOAT, ["N", 3])],
            [y],
        ),
        "self loop": helper.make_graph([helper.make_node("Relu", ["y"], ["y"])], "g", [x], [y]),
    }
    return [
        helper.make_model(
            g, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8
        ).SerializeToString()
        for g in graphs.values()
    ]


def mutations(count, seed):
    """`count` damaged model files (bytes), the same for a seed."""
    r = np.random.default_rng(seed)
    seeds = _seeds()
    out = list(_bad_graphs())
    while len(out) < count:
        proto = seeds[r.integers(len(seeds))]
        data = bytearray(proto.SerializeToString())
        how = r.integers(5)
        if how == 0:  # bit flips
            for _ in range(int(r.integers(1, 9))):
                i = int(r.integers(len(data)))
                data[i] ^= 1 << int(r.integers(8))
        elif how == 1:  # truncation
            data = data[: int(r.integers(len(data)))]
        elif how == 2:  # inserted or deleted bytes
            i = int(r.integers(len(data)))
            if r.integers(2):
                data[i:i] = r.bytes(int(r.integers(1, 9)))
            else:
                del data[i : i + int(r.integers(1, 9))]
        else:  # one or two edited fields
            model = onnx.ModelProto()
            model.CopyFrom(proto)
            for _ in range(int(r.integers(1, 3))):
                try:
                    _edit(model, r)
                except (KeyError, ValueError, TypeError, IndexError):
                    continue  # an edit the proto's own helpers refuse: try another
            data = bytearray(model.SerializeToString())
        out.append(bytes(data))
    return out[:count]


# --- the subprocess that loads and runs each case --------------------------------------------------

WORKER = textwrap.dedent("""
    import json, pickle, sys, warnings
    import numpy as np, onnxruntime as ort, gradlime as gl
    warnings.simplefilter("ignore")
    cases = pickle.load(open(sys.argv[1], "rb"))
    X = np.array([[0.3, -1.2, 2.0], [0.0, 0.5, -0.7]])
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    for i, data in enumerate(cases):
        print(json.dumps({"start": i}), flush=True)
        out = {"case": i}
        try:
            m = gl.Model.from_onnx(data, target=0)
            out["values"] = m(X).tolist()
            out["engine"] = m.engine
        except Exception as exc:
            out["error"] = type(exc).__name__
            out["message"] = str(exc)[:300]
        try:  # the reference: rows are independent, so a fixed batch is read as any batch
            import onnx
            proto = onnx.load_model_from_string(data)
            for info in (*proto.graph.input, *proto.graph.output):
                dims = info.type.tensor_type.shape.dim
                if len(dims) and dims[0].HasField("dim_value"):
                    dims[0].dim_param = "N"
            data = proto.SerializeToString()
            s = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
            i0 = s.get_inputs()[0]
            ref = s.run(None, {i0.name: X.astype(np.float32)})[0]
            out["ort"] = np.asarray(ref, dtype=np.float64).reshape(len(X), -1)[:, 0].tolist()
        except Exception as exc:
            out["ort_error"] = type(exc).__name__
        print(json.dumps(out), flush=True)
""")


def run_cases(cases, tmp_path):
    """Each case's outcome; a crash of the worker fails naming the case it was on."""
    path = tmp_path / "cases.pkl"
    path.write_bytes(pickle.dumps(cases))
    res = subprocess.run(
        [sys.executable, "-c", WORKER, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    outcomes = [line for line in lines if "case" in line]
    if res.returncode != 0:
        last = lines[-1]["start"] if lines and "start" in lines[-1] else None
        pytest.fail(f"the worker died (exit {res.returncode}) on case {last}: {res.stderr[-2000:]}")
    assert len(outcomes) == len(cases)
    return outcomes


def test_damaged_onnx_files_give_clear_errors_or_onnxruntimes_values(tmp_path):
    count = CASES * (20 if conftest.FUZZ_LONG else 1)
    seed = np.random.SeedSequence().entropy if conftest.FUZZ_LONG else 2026
    cases = mutations(count, seed)
    loaded, problems = 0, []
    for out in run_cases(cases, tmp_path):
        where = f"case {out['case']} (seed {seed}): {out}"
        if "error" in out:
            if out["error"] not in ("ValueError", "TypeError", "NotNative", "PointTooLarge"):
                problems.append(f"not a clear error: {where}")
            continue
        loaded += 1
        if "ort" not in out:
            problems.append(f"gradlime ran a file onnxruntime refuses: {where}")
        elif not np.allclose(out["values"], out["ort"], rtol=1e-4, atol=1e-5, equal_nan=True):
            problems.append(f"values differ from onnxruntime's: {where}")
    assert not problems, f"{len(problems)} of {count} cases:\n" + "\n".join(problems[:20])
    assert loaded > count // 20  # the mutations leave enough runnable files to compare
