"""Local Lipschitz of SmoothGrad: gradlime's one-pass engine against a Quantus-style loop.

    python bench/lipschitz_vs_quantus.py            # prints a markdown table

Paper 1's network shape (15-10-10-2 ELU, softmax, target 1; weights of
bench/native_vs_onnxruntime.py), SmoothGrad with n = 1000 perturbations, sigma = 0.5, local
Lipschitz (paper 2, eq. (4)) over `--points` points x 50 Gaussian neighbours (radius 0.1).

  gradlime  gl.lipschitz on gl.Model.from_onnx (native C++ network), common random numbers:
            points x neighbours x samples in one engine pass
  quantus   quantus.LocalLipschitzEstimate with a Captum NoiseTunnel(Saliency) explain function
            (torch copy of the same network), when quantus, captum and torch import and run
  numpy     otherwise (and always, as a second peer): the same algorithm hand-written, for each
            point and neighbour n fresh perturbations, NumpyNet gradients averaged, max ratio

The peers run on `--peer-points` points (fewer, they are slow) and are extrapolated per point to
`--points`; the table says so. The estimates are compared after timing: with common random
numbers gradlime measures the explanation's change only, the peers add Monte-Carlo noise of
order sqrt(2/n) * |grad| / radius, so they agree in order of magnitude, not digit for digit.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from native_vs_onnxruntime import TARGET, NumpyNet, onnx_bytes, timed_best, weights

import gradlime as gl

N_SAMPLES, SIGMA, RADIUS, NEIGHBORS = 1000, 0.5, 0.1, 50


def numpy_loop(net: NumpyNet, X: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = X.shape[1]

    def sg(x: np.ndarray) -> np.ndarray:
        return net.grad(x + SIGMA * rng.standard_normal((N_SAMPLES, d))).mean(axis=0)

    out = np.empty(len(X))
    for i, x in enumerate(X):
        phi = sg(x)
        best = 0.0
        for _ in range(NEIGHBORS):
            xj = x + RADIUS * rng.standard_normal(d)
            best = max(best, np.linalg.norm(sg(xj) - phi) / np.linalg.norm(xj - x))
        out[i] = best
    return out


def quantus_run(layers, X: np.ndarray):
    """Quantus LocalLipschitzEstimate + Captum NoiseTunnel(Saliency); raises if unavailable."""
    import captum.attr
    import quantus
    import torch

    mods: list[torch.nn.Module] = []
    for i, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, torch.nn.ELU()] if i < len(layers) - 1 else [lin, torch.nn.Softmax(-1)]
    net = torch.nn.Sequential(*mods).eval()

    def explain(model, inputs, targets, **_):
        x = torch.as_tensor(inputs, dtype=torch.float32).requires_grad_(True)
        nt = captum.attr.NoiseTunnel(captum.attr.Saliency(model))
        a = nt.attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=N_SAMPLES,
            nt_samples_batch_size=N_SAMPLES,
            stdevs=SIGMA,
            target=torch.as_tensor(targets),
            abs=False,
        )
        return a.detach().numpy()

    metric = quantus.LocalLipschitzEstimate(
        nr_samples=NEIGHBORS,
        perturb_std=RADIUS,
        perturb_mean=0.0,
        abs=False,
        normalise=False,
        disable_warnings=True,
        display_progressbar=False,
    )
    scores = metric(
        model=net,
        x_batch=X.astype(np.float32),
        y_batch=np.full(len(X), TARGET),
        a_batch=None,
        explain_func=explain,
        device="cpu",
        batch_size=len(X),
    )
    return np.asarray(scores, dtype=np.float64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--peer-points", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    layers = weights()
    X = np.random.default_rng(1).normal(size=(args.points, 15))
    Xp = X[: args.peer_points]
    model = gl.Model.from_onnx(onnx_bytes(layers), target=TARGET)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"OpenMP threads {gl._core.max_threads()}, numpy {np.__version__}, gradlime {gl.__version__}\n"
    )
    print(
        f"### local Lipschitz of SmoothGrad, 15-10-10-2 ELU net, n={N_SAMPLES}, sigma={SIGMA}, "
        f"{NEIGHBORS} neighbours (radius {RADIUS})\n"
    )
    rows = []
    t, L = timed_best(
        lambda: gl.lipschitz(
            model, X, sigma=SIGMA, n_samples=N_SAMPLES, radius=RADIUS, n_neighbors=NEIGHBORS
        ),
        args.repeat,
    )
    rows.append(("gradlime (native ONNX, CRN, one pass)", args.points, t, t, L.mean))
    t_np, v_np = timed_best(lambda: numpy_loop(NumpyNet(layers, TARGET), Xp), 1)
    rows.append(("numpy loop (hand-written, fresh draws)", len(Xp), t_np, None, v_np.mean()))
    try:
        t_q, v_q = timed_best(lambda: quantus_run(layers, Xp), 1)
        rows.append(
            ("quantus LocalLipschitzEstimate + captum NoiseTunnel", len(Xp), t_q, None, v_q.mean())
        )
    except Exception as exc:  # noqa: BLE001  (any failure of the optional peer: report it)
        print(f"(quantus peer not run: {type(exc).__name__}: {exc})\n")
    print(
        f"| implementation | points timed | seconds | seconds for {args.points} points | mean local Lipschitz | gradlime speed-up |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, n, secs, _, mean in rows:
        full = secs * args.points / n
        extra = "" if n == args.points else " (extrapolated)"
        print(
            f"| {name} | {n} | {secs:.3f} | {full:.2f}{extra} | {mean:.4f} | {full / rows[0][2]:.0f}x |"
        )
    means = [r[4] for r in rows]
    ok = max(means) / min(means) < 10
    print(f"\nestimates within one order of magnitude of each other: {ok}")


if __name__ == "__main__":
    main()
