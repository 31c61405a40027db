"""The streaming driver's speed, two builds side by side in one run.

    python bench/driver_speed.py --base-path BASE --new-path NEW [--rounds 5]

BASE and NEW are directories put first on PYTHONPATH (an empty string: the installed
gradlime). Each round runs one timing process per build, alternating, so the VM's drift hits both
alike; each figure is the best over rounds of the best of `--repeat` calls inside a process.
The workloads: paper 1's 15-10-10-2 ELU network as a native ONNX model (SmoothGrad, C-LIME and
Stein at 200 points x 1000 samples; LIME at 200 x 1000; KernelSHAP at 50 points, 2078
coalitions, 20 background rows; local Lipschitz of SmoothGrad, 4 points x 50 neighbours x 1000
samples), and the batched path's overhead over a numpy callable (the tanh network of
bench/models.py, d = 32, 64 points) for SmoothGrad, C-LIME, LIME and KernelSHAP (LIME's and
KernelSHAP's batches are now double-buffered as the engine's were): overhead = (wall - seconds
inside the callable) / seconds inside the callable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _best(fn, repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(repeat: int) -> dict[str, float]:
    """Seconds (or overhead fractions) per workload, for the gradlime on sys.path."""
    sys.path.insert(0, HERE)
    import numpy as np
    from models import TanhNet, Timed
    from native_vs_onnxruntime import TARGET, onnx_bytes, weights

    import gradlime as gl

    net = gl.Model.from_onnx(onnx_bytes(weights(0)), target=TARGET)
    X = np.random.default_rng(1).normal(size=(200, 15))
    bg = np.random.default_rng(2).normal(size=(20, 15))
    out = {
        "native smoothgrad 200x1000": _best(lambda: gl.smoothgrad(net, X, n_samples=1000), repeat),
        "native clime 200x1000": _best(lambda: gl.clime(net, X, n_samples=1000), repeat),
        "native stein 200x1000": _best(lambda: gl.stein(net, X, n_samples=1000), repeat),
        "native lime 200x1000": _best(lambda: gl.lime(net, X, n_samples=1000), repeat),
        "native kernel_shap 50x2078, B=20": _best(
            lambda: gl.kernel_shap(net, X[:50], baseline=bg, n_samples=2078), repeat
        ),
        "native lipschitz 4x50x1000": _best(
            lambda: gl.lipschitz(net, X[:4], n_samples=1000, n_neighbors=50), repeat
        ),
    }
    tanh = TanhNet(32, 64)
    P = np.random.default_rng(3).normal(size=(64, 32))
    for batch in (1024, 8192):
        for name, call in (
            ("smoothgrad", lambda m: gl.smoothgrad(m, P, sigma=0.5, n_samples=2048)),
            ("clime", lambda m: gl.clime(m, P, sigma=0.5, n_samples=2048)),
            ("lime", lambda m: gl.lime(m, P, n_samples=2048)),
            ("kernel_shap", lambda m: gl.kernel_shap(m, P[:16], baseline=P[:8], n_samples=1024)),
        ):
            best = None
            for _ in range(repeat):
                f, g = Timed(tanh.f), Timed(tanh.grad)
                m = gl.Model(f, grad=g, batch_size=batch)
                t0 = time.perf_counter()
                call(m)
                wall = time.perf_counter() - t0
                inside = f.seconds + g.seconds
                best = min(best or float("inf"), (wall - inside) / inside)
            out[f"{name} overhead over numpy, batch {batch}"] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-path", default=None)
    ap.add_argument("--new-path", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.repeat)))
        return
    best: dict[str, dict[str, float]] = {"base": {}, "new": {}}
    for _ in range(args.rounds):
        for side, path in (("base", args.base_path), ("new", args.new_path)):
            env = dict(os.environ, PYTHONPATH=path or "")
            cmd = [sys.executable, __file__, "--measure", "--repeat", str(args.repeat)]
            got = json.loads(
                subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            )
            for k, v in got.items():
                best[side][k] = min(best[side].get(k, float("inf")), v)
    print("| workload | base | new | new / base |")
    print("| --- | ---: | ---: | ---: |")
    for k, b in best["base"].items():
        n = best["new"][k]
        unit = "" if "overhead" in k else " s"
        fmt = (lambda v: f"{100 * v:.1f}%") if "overhead" in k else (lambda v: f"{v:.4f}")
        print(f"| {k} | {fmt(b)}{unit} | {fmt(n)}{unit} | {n / b:.2f} |")


if __name__ == "__main__":
    main()
