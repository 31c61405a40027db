"""The native ONNX engine side by side with onnxruntime and with hand-written numpy.

    python bench/native_vs_onnxruntime.py      # prints a markdown table

The model is paper 1's network shape, 15-10-10-2 (ELU hidden layers, softmax head; the output
explained is column 1), with fixed random weights (seed 0), built as an ONNX graph with
onnx.helper. Three ways to explain it, each through gradlime's engine on the same draws:

  native       gl.Model.from_onnx(bytes): the network runs in C++ (float32), no Python per batch
  onnxruntime  gl.Model(f) with f calling an onnxruntime InferenceSession (values only, so no
               SmoothGrad)
  numpy        gl.Model(f, grad=g) with a vectorised float32 numpy forward and backward pass

Throughput is model evaluations per second (points x samples / seconds), best of `--repeat`
runs after a warm-up. After timing, the native SmoothGrad is checked against the numpy one.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np

import gradlime as gl

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(f"this benchmark needs onnx and onnxruntime ({exc})") from exc

SIZES = (15, 10, 10, 2)
TARGET = 1


def weights(seed: int = 0, sizes: tuple[int, ...] = SIZES) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (in, out), b (out,))] in float32, for the layers of `sizes` (paper 1's by default)."""
    rng = np.random.default_rng(seed)
    return [
        (
            (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32),
            (rng.normal(size=n_out) * 0.1).astype(np.float32),
        )
        for n_in, n_out in itertools.pairwise(sizes)
    ]


def onnx_bytes(layers: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Gemm (transB=1, as torch exports Linear) -> Elu -> Gemm -> Elu -> Gemm -> Softmax."""
    nodes, inits, cur = [], [], "x"
    for i, (W, b) in enumerate(layers):
        inits += [
            numpy_helper.from_array(np.ascontiguousarray(W.T), f"W{i}"),
            numpy_helper.from_array(b, f"b{i}"),
        ]
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [f"z{i}"], transB=1))
        cur = f"z{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Elu", [cur], [f"h{i}"]))
            cur = f"h{i}"
    nodes.append(helper.make_node("Softmax", [cur], ["y"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "paper1_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", layers[0][0].shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", layers[-1][0].shape[1]])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


class NumpyNet:
    """The same network in vectorised float32 numpy, forward and reverse mode."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], target: int) -> None:
        self.layers = layers
        self.target = target

    def _forward(self, A: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        H = A.astype(np.float32)
        pre = []
        for i, (W, b) in enumerate(self.layers):
            Z = H @ W + b
            if i < len(self.layers) - 1:
                pre.append(Z)
                H = np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0)))  # ELU, alpha = 1
            else:
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                H = E / E.sum(axis=1, keepdims=True)
        return pre, H

    def f(self, A: np.ndarray) -> np.ndarray:
        return self._forward(A)[1][:, self.target].astype(np.float64)

    def grad(self, A: np.ndarray) -> np.ndarray:
        pre, S = self._forward(A)
        t = self.target
        G = -S[:, t : t + 1] * S  # d softmax_t / d z = s_t (e_t - s)
        G[:, t] += S[:, t]
        for i in range(len(self.layers) - 1, -1, -1):
            G = G @ self.layers[i][0].T
            if i > 0:
                Z = pre[i - 1]
                G *= np.where(Z > 0, np.float32(1), np.exp(np.minimum(Z, 0)))
        return G.astype(np.float64)


def onnxruntime_model(data: bytes, target: int) -> gl.Model:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def f(A: np.ndarray) -> np.ndarray:
        out = session.run(None, {name: A.astype(np.float32)})[0]
        return out[:, target].astype(np.float64)

    return gl.Model(f)


def timed_best(fn, repeat: int) -> tuple[float, object]:
    """The fastest of `repeat` timed calls after one warm-up call, and the last result.
    Shared by the side-by-side benchmarks in this folder."""
    result = fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def best_seconds(fn, repeat: int) -> float:
    return timed_best(fn, repeat)[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=200, help="N, points explained")
    p.add_argument("--samples", type=int, default=1000, help="n, perturbations per point")
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=10, help="timed runs (best kept), after a warm-up")
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OpenMP threads {gl._core.max_threads()}, numpy {np.__version__}, "
        f"onnxruntime {ort.__version__}, gradlime {gl.__version__}\n"
    )

    layers = weights(0)
    data = onnx_bytes(layers)
    native = gl.Model.from_onnx(data, target=TARGET)
    assert native.engine == "native", native.engine
    runtime = onnxruntime_model(data, TARGET)
    net = NumpyNet(layers, TARGET)
    numpy_model = gl.Model(net.f, grad=net.grad)

    X = np.random.default_rng(1).normal(size=(args.points, SIZES[0]))
    kw = {"sigma": args.sigma, "n_samples": args.samples, "seed": 0}
    evals = args.points * args.samples
    methods = {"smoothgrad": gl.smoothgrad, "clime": gl.clime, "stein": gl.stein}

    print(
        f"### {'-'.join(map(str, SIZES))} ELU net, softmax head (target {TARGET}), "
        f"{args.points} points x {args.samples} samples, sigma {args.sigma}: model evaluations/s\n"
    )
    print(
        "| estimator | native (from_onnx) | onnxruntime gl.Model(f) | numpy float32 "
        "gl.Model(f, grad) | native / onnxruntime | native / numpy |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, method in methods.items():
        t_native = best_seconds(lambda m=method: m(native, X, **kw), args.repeat)
        t_numpy = best_seconds(lambda m=method: m(numpy_model, X, **kw), args.repeat)
        if name == "smoothgrad":
            t_ort = None
        else:
            t_ort = best_seconds(lambda m=method: m(runtime, X, **kw), args.repeat)
        ort_cell = "n/a (no gradient)" if t_ort is None else f"{evals / t_ort:,.0f}"
        ratio_ort = "n/a" if t_ort is None else f"{t_ort / t_native:.1f}x"
        print(
            f"| {name} | {evals / t_native:,.0f} | {ort_cell} | {evals / t_numpy:,.0f} "
            f"| {ratio_ort} | {t_numpy / t_native:.1f}x |"
        )

    # Agreement, after timing. Same seed, same draws: the three differ only in float32 rounding.
    a, b = gl.smoothgrad(native, X, **kw), gl.smoothgrad(numpy_model, X, **kw)
    z = np.abs(a.values - b.values) / (np.sqrt(a.stderr**2 + b.stderr**2) + 1e-300)
    frac = float(np.mean(z <= 6))
    print(
        f"\ncheck: native vs numpy SmoothGrad within 6 combined stderr on {100 * frac:.2f}% of "
        f"entries (need >= 99%); max |difference| {np.max(np.abs(a.values - b.values)):.2e}"
    )
    worst = 0.0
    for name in ("clime", "stein"):
        c, r = methods[name](native, X, **kw), methods[name](runtime, X, **kw)
        worst = max(worst, float(np.max(np.abs(c.values - r.values))))
    print(f"check: native vs onnxruntime C-LIME and Stein, max |difference| {worst:.2e}")
    if frac < 0.99:
        raise SystemExit("native and numpy SmoothGrad disagree")


if __name__ == "__main__":
    main()
