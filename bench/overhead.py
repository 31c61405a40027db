"""Engine overhead over the callable's own time, by batch size, and throughput per estimator.

    python bench/overhead.py            # prints the markdown tables kept in bench/RESULTS.md

Overhead = (wall time of the gradlime call - seconds spent inside the user's callable)
           / seconds spent inside the callable,
measured in the same call by wrapping the callable with a timer. Best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from models import TanhNet, Timed, numpy_smoothgrad

import gradlime as gl


def timed_call(net, method, X, n, batch, repeat):
    best = None
    for _ in range(repeat):
        f, g = Timed(net.f), Timed(net.grad)
        model = gl.Model(f, grad=g, batch_size=batch)
        t0 = time.perf_counter()
        gl.explain(model, X, methods=(method,), sigma=0.5, n_samples=n)
        wall = time.perf_counter() - t0
        inside = f.seconds + g.seconds
        if best is None or wall < best[0]:
            best = (wall, inside)
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rows", type=int, default=1 << 18)
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OpenMP threads {gl._core.max_threads()}, numpy {np.__version__}, gradlime {gl.__version__}\n"
    )

    for d, hidden in ((32, 64), (100, 256), (784, 256)):
        net = TanhNet(d, hidden)
        print(
            f"### overhead over the callable, d={d}, tanh net hidden={hidden}, {args.rows} rows\n"
        )
        print("| method | batch rows | wall s | inside callable s | overhead |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for method in ("smoothgrad", "clime", "stein"):
            for batch in (1024, 4096, 8192, 16384, 65536):
                n = 8192 if method != "clime" or d < 200 else 16384
                X = np.zeros((max(1, args.rows // n), d))
                wall, inside = timed_call(net, method, X, n, batch, args.repeat)
                print(
                    f"| {method} | {batch} | {wall:.3f} | {inside:.3f} | {100 * (wall - inside) / inside:.1f}% |"
                )
        print()

    net = TanhNet(32, 64)
    X = np.random.default_rng(1).normal(size=(64, 32))
    print("### throughput, d=32, hidden=64, 64 points x 1000 samples\n")
    print("| estimator | samples/s |")
    print("| --- | ---: |")
    model = gl.Model(net.f, grad=net.grad)
    for label, fn in (
        ("smoothgrad", lambda: gl.smoothgrad(model, X, sigma=0.5)),
        ("clime", lambda: gl.clime(model, X, sigma=0.5)),
        ("stein", lambda: gl.stein(model, X, sigma=0.5)),
        ("explain (all three, one pass)", lambda: gl.explain(model, X, sigma=0.5)),
        ("plain numpy SmoothGrad loop", lambda: numpy_smoothgrad(net, X, 0.5, 1000, 0, 8192)),
    ):
        best = min(_time(fn) for _ in range(args.repeat))
        print(f"| {label} | {64 * 1000 / best:,.0f} |")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
