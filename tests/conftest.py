"""Models whose explanations are known in closed form, shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradlime as gl
from gradlime.models import network_of


class Recorder:
    """Wraps a function and keeps every batch it was called on (to check the engine from outside)."""

    def __init__(self, f):
        self.f = f
        self.batches: list[np.ndarray] = []

    def __call__(self, A):
        self.batches.append(A.copy())
        return self.f(A)

    @property
    def rows(self) -> np.ndarray:
        return np.concatenate(self.batches)

    def perturbations(self, X) -> np.ndarray:
        """The rows the method sampled: all but its last evaluation, f at the points X (for the
        Explanation's fx), which is checked to be exactly that."""
        points = np.atleast_2d(X)
        rows = self.rows
        np.testing.assert_array_equal(rows[-len(points) :], points)
        return rows[: -len(points)]


def printed_by_thread_count(script, *args):
    """Runs `python -c script *args` under OMP_NUM_THREADS=1 and 2. The script prints words, the
    second to last being the thread count it saw. Returns {threads: the other words}."""
    out = {}
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        res = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        words = res.stdout.split()
        assert words[-2] == threads
        out[threads] = words[:-2] + words[-1:]
    return out


_EXPLAIN_DIGEST = """
import hashlib, sys, numpy as np, gradlime as gl
sys.path.insert(0, sys.argv[1])
from onnx_graphs import build_onnx, mlp
net = gl.Model.from_onnx(build_onnx(mlp(d=3, widths=(8, 1), act=("Tanh", {})), 3).SerializeToString())
callable_model = gl.Model(net.f, grad=net.grad, batch_size=100)
X = np.random.default_rng(0).normal(size=(40, 3)) * 2
h = hashlib.sha256()
for m in (net, callable_model):
    for kw in SCHEMES:
        E = gl.explain(m, X, sigma=0.5, n_samples=N_SAMPLES, seed=7, **kw)
        for k in sorted(E):
            h.update(E[k].values.tobytes()); h.update(E[k].stderr.tobytes())
            h.update(np.asarray(E[k].samples_per_point).tobytes())
print(gl._core.max_threads(), h.hexdigest())
"""


def explain_digests_by_thread_count(schemes, n_samples):
    """A digest of gl.explain's results under each of `schemes` (dicts of keywords), on a native
    network (fused path) and the same network as a callable (batched path), printed under 1 and 2
    OpenMP threads: {threads: the digest words}."""
    script = _EXPLAIN_DIGEST.replace("SCHEMES", repr(list(schemes))).replace(
        "N_SAMPLES", str(n_samples)
    )
    return printed_by_thread_count(script, os.path.dirname(__file__))


def ctrl_c_latency(call, *, setup="", after=0.5):
    """Runs `call` (source using `np`, `gl` and whatever `setup` defines) in a subprocess that
    sends itself SIGINT `after` seconds in; the seconds from the signal to the KeyboardInterrupt,
    or None when the call finished first."""
    script = textwrap.dedent(f"""
        import sys, threading, os, signal, time, numpy as np, gradlime as gl
        {setup}
        sent = []
        def fire():
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer({after}, fire).start()
        try:
            {call}
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter() - sent[0], flush=True)
            sys.exit(3)
        print("finished", flush=True)
    """)
    res = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert res.returncode in (0, 3), res.stderr
    return float(res.stdout.split()[1]) if res.returncode == 3 else None


def stops_on_ctrl_c(onnx_path, call):
    """True when Ctrl-C half a second in stops `call` (source using `m`, the native model at
    onnx_path, and `np`)."""
    return ctrl_c_latency(call, setup=f"m = gl.Model.from_onnx({str(onnx_path)!r})") is not None


def onnx_net(W, b=None, activations=()):
    """The bytes of a float32 ONNX graph x -> MatMul W [-> Add b] [-> each activation], with
    activations given as op names or (op, attributes). Skips the test without onnx."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    W = np.asarray(W, dtype=np.float32)
    inits = [numpy_helper.from_array(W, "W")]
    steps = [("MatMul", ["W"], {})]
    if b is not None:
        inits.append(numpy_helper.from_array(np.asarray(b, dtype=np.float32), "b"))
        steps.append(("Add", ["b"], {}))
    steps += [(a, [], {}) if isinstance(a, str) else (a[0], [], a[1]) for a in activations]
    nodes, cur = [], "x"
    for i, (op, extra, attrs) in enumerate(steps):
        out = "y" if i == len(steps) - 1 else f"h{i}"
        nodes.append(helper.make_node(op, [cur, *extra], [out], **attrs))
        cur = out
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", W.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", W.shape[1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def linear_model(w, b=0.0):
    w = np.asarray(w, dtype=float)
    return gl.Model(lambda A: A @ w + b, grad=lambda A: np.broadcast_to(w, A.shape).copy())


def sine_model(a):
    """f(x) = sin(a.x); E[grad f(x + e)] = a cos(a.x) exp(-a^T Sigma a / 2)."""
    a = np.asarray(a, dtype=float)
    return gl.Model(lambda A: np.sin(A @ a), grad=lambda A: np.cos(A @ a)[:, None] * a)


def sine_smoothgrad(a, X, cov):
    a = np.asarray(a, dtype=float)
    return np.cos(X @ a)[:, None] * a * np.exp(-0.5 * a @ cov @ a)


def elementwise_model():
    """Row-independent arithmetic only, so any batching gives the same bits from the callable."""

    def f(A):
        return np.sin(A[:, 0]) + A[:, 1] * A[:, 2] + np.tanh(A[:, 3])

    def grad(A):
        return np.stack([np.cos(A[:, 0]), A[:, 2], A[:, 1], 1.0 - np.tanh(A[:, 3]) ** 2], axis=1)

    return gl.Model(f, grad=grad)


def within(estimate, truth, k=5.0):
    """|estimate - truth| <= k standard errors (plus float slack), element-wise."""
    err = np.abs(estimate.values - truth)
    return err <= k * estimate.stderr + 1e-12


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        help="run the fuzz tests on twenty times as many cases, freshly drawn (minutes)",
    )


FUZZ_LONG = False  # set from --fuzz-long before the test modules are collected


def pytest_configure(config):
    global FUZZ_LONG
    FUZZ_LONG = config.getoption("--fuzz-long")


def fuzz_settings(max_examples):
    """hypothesis settings for a fuzz test: `max_examples` fixed cases in the normal suite (the
    same ones on every run), twenty times as many fresh ones under --fuzz-long."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples * (20 if FUZZ_LONG else 1),
        derandomize=not FUZZ_LONG,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )


def random_network(acts, d=7, seed=0, widths=(12, 9), out=3):
    """A native network of random weights: d inputs, dense layers of `widths` each followed by
    its activation in `acts` (the last entry: the output's, or None), `out` outputs."""
    rng = np.random.default_rng(seed)
    layers, width = [], d
    for w, act in zip(widths, acts[:-1], strict=True):
        alpha, gamma = (1.6732632, 1.0507010) if act == "selu" else (1.0, 0.0)
        layers += [
            ("dense", rng.normal(size=(w, width)), rng.normal(size=w)),
            ("act", act, alpha, gamma),
        ]
        width = w
    layers.append(("dense", rng.normal(size=(out, width)), rng.normal(size=out)))
    if acts[-1]:
        layers.append(("act", acts[-1], 0.0, 0.0))
    return gl.Model._native(network_of(layers), layers, 1, None)


def relative(a, b):
    """The largest difference relative to the largest entry of b."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# GPU tests: skipped where this build or machine has no CUDA device (CI).
gpu = pytest.mark.skipif(not gl.cuda_available(), reason="no CUDA device")
