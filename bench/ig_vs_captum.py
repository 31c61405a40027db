"""Integrated Gradients: gradlime vs Captum, side by side in one run.

    pip install ".[bench]" torch captum
    python bench/ig_vs_captum.py

Paper 1's network shape, 15-10-10-2 (ELU, softmax head, output column 1), fixed random weights,
as a torch module (for Captum and gl.Model.from_torch) and as an ONNX graph with the same weights
(gl.Model.from_onnx, the native engine). 200 points, zero baseline, 50 Gauss-Legendre steps on
both sides (Captum's method="gausslegend"). Best of `--repeat` runs; the attributions are compared
after timing.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch
from captum.attr import IntegratedGradients
from native_vs_onnxruntime import TARGET, best_seconds, onnx_bytes, weights

import gradlime as gl


def torch_net(layers: list[tuple[np.ndarray, np.ndarray]]) -> torch.nn.Module:
    mods: list[torch.nn.Module] = []
    for i, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, torch.nn.ELU()] if i < len(layers) - 1 else [lin, torch.nn.Softmax(dim=1)]
    return torch.nn.Sequential(*mods).eval()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--points", type=int, default=200)
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    layers = weights(0)
    net = torch_net(layers)
    X = np.random.default_rng(1).normal(size=(args.points, 15))
    Xt = torch.from_numpy(X.astype(np.float32))
    ig = IntegratedGradients(net)

    def captum_run():
        return ig.attribute(Xt, target=TARGET, n_steps=args.steps, method="gausslegendre")

    native = gl.Model.from_onnx(onnx_bytes(layers), target=TARGET)
    from_torch = gl.Model.from_torch(net, target=TARGET)
    runs = {
        "Captum IntegratedGradients (torch)": captum_run,
        "gl.integrated_gradients, native ONNX": lambda: gl.integrated_gradients(
            native, X, n_steps=args.steps
        ),
        "gl.integrated_gradients, from_torch": lambda: gl.integrated_gradients(
            from_torch, X, n_steps=args.steps
        ),
    }
    seconds = {name: best_seconds(fn, args.repeat) for name, fn in runs.items()}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), gradlime {gl.__version__}\n"
    )
    print(
        f"### Integrated Gradients, 15-10-10-2 ELU net, {args.points} points, {args.steps} steps\n"
    )
    print("| implementation | seconds | speed-up vs Captum |")
    print("| --- | ---: | ---: |")
    ref = seconds["Captum IntegratedGradients (torch)"]
    for name, s in seconds.items():
        print(f"| {name} | {s:.4f} | {ref / s:.1f}x |")
    c = captum_run().detach().numpy().astype(np.float64)
    n = gl.integrated_gradients(native, X, n_steps=args.steps).values
    t = gl.integrated_gradients(from_torch, X, n_steps=args.steps).values
    print(
        f"\ncheck: max |native - Captum| = {np.abs(n - c).max():.2e}, max |from_torch - Captum| = "
        f"{np.abs(t - c).max():.2e} (float32 networks)"
    )
    assert np.abs(n - c).max() < 1e-4
    assert np.abs(t - c).max() < 1e-4


if __name__ == "__main__":
    main()
