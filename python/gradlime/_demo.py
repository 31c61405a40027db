"""The bundled default job: a network trained on real data (the diabetes study bundled in
``gradlime/data``), explained at a few patients by SmoothGrad, C-LIME and Stein from one shared
pass, with standard errors, each patient's top features by name, the three estimators' agreement
(paper 1, Theorem 1) and, when matplotlib is there, a picture."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

__all__ = ["add_parser", "run"]

TOP = 3  # features shown per point


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="explain the bundled diabetes network at a few patients")
    p.add_argument("--points", type=int, default=5, help="patients to explain (default 5)")
    p.add_argument("--n-samples", type=int, default=4000)
    p.add_argument(
        "--sigma",
        type=float,
        default=0.25,
        help="the neighbourhood's standard deviation, as a fraction of each feature's (default 0.25)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", default="gradlime-demo.png", help="the picture (needs matplotlib)")
    p.add_argument("--no-png", action="store_true", help="write no picture")


def run(args: argparse.Namespace) -> int:
    from . import datasets
    from .explain import explain

    X, _ = datasets.diabetes()
    names = datasets.feature_names()
    model = datasets.diabetes_model()
    pts = X[: args.points]
    sigma = args.sigma * X.std(axis=0)
    t0 = time.perf_counter()
    E = explain(
        model, pts, sigma=sigma, n_samples=args.n_samples, seed=args.seed, feature_names=names
    )
    elapsed = time.perf_counter() - t0
    print(
        "gradlime demo: a 10-16-16-1 tanh network predicting diabetes progression one year on\n"
        f"(Efron et al. 2004; {len(X)} patients), explained at {len(pts)} patients; sigma = "
        f"{args.sigma} x each feature's spread, n_samples = {args.n_samples}, seed = {args.seed};\n"
        "attributions per unit of each measurement"
    )
    print(
        f"one shared pass of {len(pts) * args.n_samples} perturbations for three estimators "
        f"in {elapsed * 1e3:.1f} ms ({model.engine} engine)\n"
    )
    clime = E["clime"]
    for i in range(len(pts)):
        print(f"patient {i}: predicted progression {float(np.asarray(clime.fx)[i]):.1f}")
        top = np.argsort(-np.abs(clime.values[i]), kind="stable")[:TOP]
        for name, e in E.items():
            cells = "  ".join(f"{names[k]} {e.values[i, k]:+.3f}±{e.stderr[i, k]:.3f}" for k in top)
            print(f"  {name:<10} {cells}")
    print("\nagreement (paper 1, Theorem 1: all three estimate the same vector):")
    sg = E["smoothgrad"]
    for name in ("clime", "stein"):
        e = E[name]
        z = np.abs(e.values - sg.values) / np.sqrt(e.stderr**2 + sg.stderr**2)
        print(
            f"  {name:<6} vs smoothgrad: max |difference| = "
            f"{np.abs(e.values - sg.values).max():.4f}, "
            f"max in combined standard errors = {z.max():.2f}"
        )
    if not args.no_png:
        _picture(model, pts, E, sigma, args)
    return 0


def _picture(model: Any, pts: np.ndarray, E: dict[str, Any], sigma: np.ndarray, args: Any) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no picture: pip install 'gradlime[plot]' for one)")
        return
    from . import plots

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    E["clime"].plot(0, ax=axes[0])
    k = int(np.argmax(np.abs(E["clime"].values[0])))
    plots.convergence(
        model,
        pts[0],
        n_samples=(100, 300, 1000, 3000, 10000),
        feature=k,
        sigma=sigma,
        seed=args.seed,
        feature_names=E["clime"].feature_names,
        ax=axes[1],
    )
    fig.savefig(args.png, dpi=110)
    plt.close(fig)
    print(f"\nwrote {args.png}")
