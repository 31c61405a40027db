"""torch networks at image scale: gradlime's torch path vs Captum, side by side in one run.

    pip install ".[bench]" torch captum
    python bench/torch_vs_captum.py [--nets small_cnn resnet18] [--repeat 5]

The networks of bench/torch_nets.py on 3x32x32 inputs (d = 3072), float32, this CPU. SmoothGrad:
Captum's NoiseTunnel(Saliency) against ``gl.smoothgrad(gl.Model.from_torch(net), X)``, sigma 0.1,
output column 3; Integrated Gradients: Captum's IntegratedGradients (Gauss-Legendre) against
``gl.integrated_gradients`` (Gauss-Legendre), zero baseline. Each tool at its defaults (Captum
evaluates all of a call's rows in one batch; gradlime sizes its batches from the memory autograd
saves per row). "own fw+bw" is the module's own forward and backward over the same number of rows,
inputs made beforehand, in gradlime's batches and layout (channels-last, parameters frozen, batch
norms folded): what gradlime's path costs over the bare module is its overhead. "by hand in torch" is SmoothGrad
written directly in torch the same way (torch.randn noise, the same batches and layout, per-point
means): the bare module plus its own draws. Timings alternate
between the tools in each round, best of ``--repeat`` rounds (default 15 for the small CNN, 3 for
ResNet-18). Peak memory is each run's own peak resident set in a
fresh process (``--memory``), with 4x the points to show it does not grow with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch_nets import NETS

import gradlime as gl

TARGET, SIGMA = 3, 0.1
#: (points, SmoothGrad samples, IG steps, timed rounds) per network
SIZES = {"small_cnn": (8, 50, 50, 15), "resnet18": (2, 50, 50, 3)}


def jobs(net_name: str, scale: int = 1) -> dict:
    net = NETS[net_name]()
    N, n, steps, _ = SIZES[net_name]
    N *= scale
    X = np.random.default_rng(0).normal(size=(N, 3, 32, 32)).astype(np.float32)
    Xt = torch.from_numpy(X)
    model = gl.Model.from_torch(net, target=TARGET)
    rows = model._batch_rows_for((3, 32, 32))
    nt, ig = NoiseTunnel(Saliency(net)), IntegratedGradients(net)
    own = [
        torch.randn(min(rows, N * n - i), 3, 32, 32).contiguous(memory_format=torch.channels_last)
        for i in range(0, N * n, rows)
    ]

    computing = model.f.__self__._network()  # the module, or its copy with batch norms folded

    def own_fwbw():
        live = [p for p in computing.parameters() if p.requires_grad]
        for p in live:
            p.requires_grad_(False)
        for x in own:
            x.requires_grad_(True)
            torch.autograd.grad(computing(x)[:, TARGET].sum(), x)
        for p in live:
            p.requires_grad_(True)

    base = torch.from_numpy(X).repeat_interleave(n, dim=0)  # point i's n rows, in order

    def by_hand():
        """SmoothGrad written in torch: randn noise, forward + backward, per-point means."""
        total = torch.zeros(N, 3 * 32 * 32)
        live = [p for p in computing.parameters() if p.requires_grad]
        for p in live:
            p.requires_grad_(False)
        for i in range(0, N * n, rows):
            x = base[i : i + rows] + SIGMA * torch.randn_like(base[i : i + rows])
            x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
            (g,) = torch.autograd.grad(computing(x)[:, TARGET].sum(), x)
            owner = torch.arange(i, i + len(x)) // n
            total.index_add_(0, owner, g.reshape(len(x), -1))
        for p in live:
            p.requires_grad_(True)
        return total / n

    return {
        "SmoothGrad: Captum NoiseTunnel": lambda: nt.attribute(
            Xt, nt_type="smoothgrad", nt_samples=n, stdevs=SIGMA, target=TARGET
        ),
        "SmoothGrad: gl.smoothgrad": lambda: gl.smoothgrad(model, X, sigma=SIGMA, n_samples=n),
        "SmoothGrad: own fw+bw": own_fwbw,
        "SmoothGrad: by hand in torch": by_hand,
        "IG: Captum IntegratedGradients": lambda: ig.attribute(
            Xt, target=TARGET, n_steps=steps, method="gausslegendre"
        ),
        "IG: gl.integrated_gradients": lambda: gl.integrated_gradients(model, X, n_steps=steps),
        "_rows": rows,
        "_ig_check": lambda: (
            ig.attribute(Xt, target=TARGET, n_steps=steps, method="gausslegendre").numpy(),
            gl.integrated_gradients(model, X, n_steps=steps).values,
        ),
    }


def peak_mib(net_name: str, job: str, scale: int) -> float:
    """The peak resident set of one run of `job`, in a fresh process, above its resident set
    before the run (MiB; the peak is reset before the run through /proc/self/clear_refs)."""
    code = (
        "import sys; sys.path.insert(0, 'bench'); import torch_vs_captum as b; "
        f"j = b.jobs({net_name!r}, {scale}); "
        "kib = lambda k: int(next(l for l in open('/proc/self/status') if l.startswith(k)).split()[1]); "
        "r0 = kib('VmRSS'); open('/proc/self/clear_refs', 'w').write('5'); "
        f"j[{job!r}](); "
        "print((kib('VmHWM') - r0) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--repeat", type=int, default=None, help="timed rounds (default: per network)")
    p.add_argument("--memory", action="store_true", help="also each run's peak memory")
    args = p.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), gradlime {gl.__version__}\n"
    )
    for net_name in args.nets:
        js = jobs(net_name)
        timed = {k: v for k, v in js.items() if not k.startswith("_")}
        for fn in timed.values():
            fn()  # warm-up
        best = dict.fromkeys(timed, float("inf"))
        N, n, steps, rounds = SIZES[net_name]
        for _ in range(args.repeat or rounds):
            for name, fn in timed.items():
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
        print(
            f"### {net_name}, 3x32x32, {N} points: SmoothGrad {n} samples, IG {steps} steps "
            f"(gradlime's batches: {js['_rows']} rows)\n"
        )
        print("| run | seconds | Captum / this |")
        print("| --- | ---: | ---: |")
        for name, s in best.items():
            ref = best[
                "IG: Captum IntegratedGradients"
                if name.startswith("IG")
                else "SmoothGrad: Captum NoiseTunnel"
            ]
            print(f"| {name} | {s:.4f} | {ref / s:.2f}x |")
        sg = best["SmoothGrad: gl.smoothgrad"]
        over = sg / best["SmoothGrad: own fw+bw"] - 1
        hand = sg / best["SmoothGrad: by hand in torch"] - 1
        c, g = js["_ig_check"]()
        print(
            f"\ngl.smoothgrad over the module's own fw+bw: {100 * over:+.1f}%, over SmoothGrad by "
            f"hand in torch: {100 * hand:+.1f}%; IG max |gl - Captum|"
            f" = {np.abs(g - c).max():.2e} (max |IG| {np.abs(c).max():.2e})\n"
        )
        if args.memory:
            print("| run | peak MiB, N points | peak MiB, 4N points |")
            print("| --- | ---: | ---: |")
            for name in timed:
                if "own" in name or "hand" in name:
                    continue
                one, four = peak_mib(net_name, name, 1), peak_mib(net_name, name, 4)
                print(f"| {name} | {one:.0f} | {four:.0f} |")
            print()


if __name__ == "__main__":
    main()
