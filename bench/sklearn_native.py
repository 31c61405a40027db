"""scikit-learn models natively vs through their own predict_proba, and the cost of the public
wrapper (names, f(x), progress), side by side in one run.

    python bench/sklearn_native.py [--rounds 5]

Workloads: an MLPClassifier 10-16-16-2 (tanh) and a LogisticRegression on 10 features, C-LIME
over 100 points x 1000 samples with engine="native" vs engine="python" (predict_proba on every
batch); SmoothGrad natively (the python engine has no gradient). The wrapper's cost: gl.clime
vs the registry's core (REGISTRY["clime"].core, no f(x) evaluation) on a numpy callable, 200
points x 1000 samples. Figures: the best of --rounds.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import gradlime as gl
from gradlime.registry import REGISTRY


def best(fn, rounds):
    fn()
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    rounds = p.parse_args().rounds
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2000, 10))
    y = (np.tanh(A @ rng.normal(size=10)) + 0.3 * A[:, 0] ** 2 > 0.2).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(
            hidden_layer_sizes=(16, 16), activation="tanh", max_iter=200, random_state=0
        ).fit(A, y)
    logit = LogisticRegression().fit(A, y)
    X = A[:100]
    print("| workload | python engine (predict_proba) | native | ratio |")
    print("| --- | --- | --- | --- |")
    for name, est in (("MLPClassifier 10-16-16-2", mlp), ("LogisticRegression", logit)):
        py = gl.Model.from_sklearn(est, target=1, engine="python")
        nat = gl.Model.from_sklearn(est, target=1)
        t_py = best(lambda py=py: gl.clime(py, X, n_samples=1000), rounds)
        t_nat = best(lambda nat=nat: gl.clime(nat, X, n_samples=1000), rounds)
        print(
            f"| {name}: clime, 100 x 1000 | {t_py * 1e3:.1f} ms | {t_nat * 1e3:.1f} ms | "
            f"{t_py / t_nat:.0f}x |"
        )
        t_sg = best(lambda nat=nat: gl.smoothgrad(nat, X, n_samples=1000), rounds)
        print(f"| {name}: smoothgrad, 100 x 1000 | no gradient | {t_sg * 1e3:.1f} ms | |")
    W = rng.normal(size=(10, 32))
    f = lambda B: np.tanh(B @ W).sum(axis=1)
    X2 = A[:200]
    t_pub = best(lambda: gl.clime(f, X2, n_samples=1000, seed=1), rounds)
    t_core = best(lambda: REGISTRY["clime"].core(f, X2, n_samples=1000, seed=1), rounds)
    print(
        f"\nthe public wrapper over the core (clime, numpy callable, 200 x 1000): "
        f"{t_pub * 1e3:.1f} ms vs {t_core * 1e3:.1f} ms, {100 * (t_pub / t_core - 1):+.1f}%"
    )


if __name__ == "__main__":
    main()
