"""SmoothGrad over Dask: one process vs a LocalCluster of 1 and 2 worker processes.

    pip install ".[dask]"
    python bench/dask_workers.py [--points 200] [--samples 500] [--blocks 8]

A model whose cost dominates: a numpy MLP 64-256-256-1 (tanh) with its gradient by hand, BLAS
held to one thread everywhere (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS = 1, set before numpy
loads, inherited by the workers), so that each process computes on one core. X: `--points` points
of d = 64 in `--blocks` blocks. Seconds: the local call (one process) and the cluster's
`gl.smoothgrad(model, X).compute()` (warmed up; a new graph each time, the model sent with it)
alternating, best of `--repeat` each; the results are checked equal to the local call bit
for bit. Peak memory: each worker's peak resident set after the runs (from /proc), at N and 2N
points (a fresh cluster each), to show it is bounded by the block, not by N. Each cluster size
twice: with distributed's default worker environment, and with MALLOC_TRIM_THRESHOLD_ (which
that environment sets to 64 KiB) left at glibc's default.
"""

from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse
import time

import numpy as np

import gradlime as gl

D, H = 64, 256


def mlp():
    rng = np.random.default_rng(0)
    W1 = rng.normal(size=(D, H)) / np.sqrt(D)
    W2 = rng.normal(size=(H, H)) / np.sqrt(H)
    w3 = rng.normal(size=H) / np.sqrt(H)

    def f(A):
        return np.tanh(np.tanh(A @ W1) @ W2) @ w3

    def grad(A):
        h1 = np.tanh(A @ W1)
        h2 = np.tanh(h1 @ W2)
        g2 = (1 - h2**2) * w3
        g1 = (g2 @ W2.T) * (1 - h1**2)
        return g1 @ W1.T

    return gl.Model(f, grad=grad, batch_size=2048)


def peak_kib() -> int:
    with open("/proc/self/status") as fh:
        return int(next(line for line in fh if line.startswith("VmHWM")).split()[1])


def main() -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--blocks", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    model = mlp()
    kw = {"sigma": 0.3, "n_samples": args.samples}

    def data(n):
        X = np.random.default_rng(1).normal(size=(n, D))
        return X, da.from_array(X, chunks=(max(1, n // args.blocks), D))

    X, _ = data(args.points)
    local = gl.smoothgrad(model, X, **kw)
    import dask

    # distributed's default environment for its workers sets MALLOC_TRIM_THRESHOLD_=65536:
    # every batch's arrays go back to the OS and are faulted in again (measured ~30% slower on
    # this numpy model). "glibc malloc" leaves the threshold at glibc's own default.
    default_env = dask.config.get("distributed.nanny.pre-spawn-environ")
    tuned_env = {k: v for k, v in default_env.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    rows = []
    for workers, env, label in [
        (1, default_env, "distributed's defaults"),
        (2, default_env, "distributed's defaults"),
        (1, tuned_env, "glibc malloc"),
        (2, tuned_env, "glibc malloc"),
    ]:
        peaks = []
        for n in (args.points, 2 * args.points):
            # A nanny writes its environment into this process's os.environ, where the next
            # cluster's workers would inherit it: start each cluster from a clean one.
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            with (
                dask.config.set({"distributed.nanny.pre-spawn-environ": env}),
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as c,
                Client(c) as client,
            ):
                _, Xdn = data(n)
                gl.smoothgrad(model, Xdn, **kw).compute()  # warm-up: imports on each worker
                here, there = np.inf, np.inf
                for _ in range(args.repeat if n == args.points else 1):
                    # The local call and the cluster's alternate: the VM's drift hits both.
                    t = time.perf_counter()
                    gl.smoothgrad(model, X, **kw)
                    here = min(here, time.perf_counter() - t)
                    t = time.perf_counter()  # a new graph each time: nothing computed before
                    C = gl.smoothgrad(model, Xdn, **kw).compute()
                    there = min(there, time.perf_counter() - t)
                if n == args.points:
                    assert np.array_equal(C.values, local.values)
                    assert np.array_equal(C.stderr, local.stderr)
                    seconds = (here, there)
                peaks.append(max(client.run(peak_kib).values()) / 1024)
        rows.append((f"{workers} worker process(es), {label}", seconds, peaks))
    print(
        f"SmoothGrad, numpy MLP {D}-{H}-{H}-1, {args.points} points x {args.samples} samples, "
        f"{args.blocks} blocks, {os.cpu_count()} cores; equal to the local call bit for bit\n"
    )
    print(
        "| LocalCluster | local call s | cluster s | cluster vs local | worker peak MiB, N "
        "| worker peak MiB, 2N |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (here, there), peaks in rows:
        print(
            f"| {name} | {here:.2f} | {there:.2f} | {here / there:.2f}x | {peaks[0]:.0f} "
            f"| {peaks[1]:.0f} |"
        )


if __name__ == "__main__":
    main()
