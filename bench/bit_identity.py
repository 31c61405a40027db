"""Digests of every public function's results on a fixed set of calls: the refactoring safety net.

Results are bitwise reproducible per build (any threads, batch size, chunking), so the digests
of one machine and build stay the same across a change that does not mean to move results.
Record before the change, compare after it:

    python bench/bit_identity.py --write /tmp/before.json
    python bench/bit_identity.py --compare /tmp/before.json

Each call runs on a Python callable and on a native ONNX network, batched and fused, so the
digests cover both driver paths.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import gradlime as gl


def _onnx_net(d: int, hidden: int, seed: int) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    r = np.random.default_rng(seed)
    W1 = (r.normal(size=(d, hidden)).astype(np.float32) / np.sqrt(d)).astype(np.float32)
    b1 = r.normal(size=hidden).astype(np.float32) * 0.1
    W2 = (r.normal(size=(hidden, 2)).astype(np.float32) / np.sqrt(hidden)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((W1, "W1"), (b1, "b1"), (W2, "W2"))]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Elu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "W2"], ["h3"]),
        helper.make_node("Softmax", ["h3"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


def _callable(d: int) -> gl.Model:
    a = np.linspace(-1.0, 1.0, d)

    def f(A: np.ndarray) -> np.ndarray:
        return np.sin(A @ a) + 0.1 * (A[:, 0] * A[:, -1])

    def grad(A: np.ndarray) -> np.ndarray:
        g = np.cos(A @ a)[:, None] * a
        g[:, 0] += 0.1 * A[:, -1]
        g[:, -1] += 0.1 * A[:, 0]
        return g

    return gl.Model(f, grad=grad, batch_size=700)


def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
    return h.hexdigest()[:16]


def _E(e: Any) -> str:
    return _digest(e.values, e.stderr)


def calls() -> dict[str, Callable[[], str]]:
    d = 5
    X = np.random.default_rng(0).normal(size=(7, d))
    X1 = X[:1]
    cov = np.eye(d) * 0.3 + 0.05
    models = {"py": _callable(d), "nat": gl.Model.from_onnx(_onnx_net(d, 12, 1), target=1)}
    out: dict[str, Callable[[], str]] = {}
    for mn, m in models.items():
        for xn, pts in (("N7", X), ("N1", X1)):  # N1 < threads: the batched path on a network
            k = f"{mn}/{xn}"
            out[f"{k}/explain"] = lambda m=m, pts=pts: "|".join(
                _E(e) for e in gl.explain(m, pts, sigma=0.4, n_samples=1500, seed=3).values()
            )
            out[f"{k}/explain_cov"] = lambda m=m, pts=pts: "|".join(
                _E(e) for e in gl.explain(m, pts, cov=cov, n_samples=333, seed=4).values()
            )
            out[f"{k}/clime_ridge"] = lambda m=m, pts=pts: _E(
                gl.clime(m, pts, sigma=[0.1, 0.2, 0.3, 0.4, 0.5], ridge=0.2, n_samples=77, seed=5)
            )
            out[f"{k}/unigrad"] = lambda m=m, pts=pts: _E(
                gl.unigrad(m, pts, radius=0.3, n_samples=129, seed=6)
            )
            out[f"{k}/lime"] = lambda m=m, pts=pts: _E(gl.lime(m, pts, n_samples=1000, seed=7))
            out[f"{k}/lime_odd"] = lambda m=m, pts=pts: _E(
                gl.lime(m, pts, n_samples=203, baseline=0.5, kernel_width=2.0, ridge=0.1, seed=8)
            )
            out[f"{k}/kshap_exact"] = lambda m=m, pts=pts: _E(
                gl.kernel_shap(m, pts, baseline=X[:3], seed=9)
            )
            out[f"{k}/kshap_sampled"] = lambda m=m, pts=pts: _E(
                gl.kernel_shap(m, pts, baseline=X[:2], n_samples=22, seed=10)
            )
            out[f"{k}/kshap_adaptive"] = lambda m=m, pts=pts: _E(
                gl.kernel_shap(m, pts, baseline=X[:2], tol=1e-3, max_samples=600, seed=14)
            )
            out[f"{k}/explain_qmc"] = lambda m=m, pts=pts: "|".join(
                _E(e)
                for e in gl.explain(m, pts, sigma=0.3, n_samples=256, qmc=True, seed=15).values()
            )
            out[f"{k}/explain_qmc_anti"] = lambda m=m, pts=pts: "|".join(
                _E(e)
                for e in gl.explain(
                    m, pts, sigma=0.3, n_samples=256, qmc=4, antithetic=True, seed=16
                ).values()
            )
            out[f"{k}/stein_cv"] = lambda m=m, pts=pts: _E(
                gl.stein(m, pts, sigma=0.3, n_samples=200, control_variate=True, seed=17)
            )
            out[f"{k}/ig"] = lambda m=m, pts=pts: _E(gl.integrated_gradients(m, pts, n_steps=20))
            out[f"{k}/lipschitz"] = lambda m=m, pts=pts: _digest(
                gl.lipschitz(m, pts, sigma=0.3, n_samples=200, n_neighbors=5).values
            )
            out[f"{k}/lipschitz_lime"] = lambda m=m, pts=pts: _digest(
                gl.lipschitz(m, pts, "lime", n_samples=100, n_neighbors=3).values
            )
            out[f"{k}/faithfulness"] = lambda m=m, pts=pts: _digest(
                gl.faithfulness(m, pts, np.ones_like(pts))
            )
            out[f"{k}/smoothed_lap"] = lambda m=m, pts=pts: _digest(
                gl.smoothed(m, kernel="laplace", scale=0.2, n_samples=50, seed=11)(pts)
            )
        out[f"{mn}/tradeoff"] = lambda m=m: _digest(
            gl.tradeoff(m, X[:3], sigmas=[0.2, 0.5], n_samples=150, n_neighbors=3).lipschitz
        )
    # large d: the row-by-row drawing path and several 128-bit mask blocks
    Xw = np.random.default_rng(1).normal(size=(3, 150))
    wide = _callable(150)
    out["py/wide/explain"] = lambda: "|".join(
        _E(e) for e in gl.explain(wide, Xw, sigma=0.2, n_samples=300, seed=12).values()
    )
    out["py/wide/lime"] = lambda: _E(gl.lime(wide, Xw, n_samples=300, seed=13))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write")
    ap.add_argument("--compare")
    args = ap.parse_args()
    got = {k: fn() for k, fn in calls().items()}
    if args.write:
        with open(args.write, "w") as fh:
            json.dump(got, fh, indent=1, sort_keys=True)
        print(f"{len(got)} digests written to {args.write}")
    if args.compare:
        with open(args.compare) as fh:
            want = json.load(fh)
        moved = sorted(k for k in want if got.get(k) != want[k])
        for k in moved:
            print(f"MOVED {k}: {want[k]} -> {got.get(k)}")
        print(f"{len(want) - len(moved)} of {len(want)} digests unchanged")
        sys.exit(1 if moved else 0)


if __name__ == "__main__":
    main()
