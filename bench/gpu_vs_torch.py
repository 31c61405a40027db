"""gradlime's CUDA backend against hand-written batched PyTorch on the same GPU (issue 14's set-up).

2000 points x 1000 samples on two ELU networks, 15-10-10-2 and 100-256-256-2 (random weights,
class 1's probability): SmoothGrad (mean input gradient over x + sigma z) and C-LIME (the normal
equations of f on [1, z], one batched solve) written by hand in torch, all points' samples in one
batch of float32 tensors, against ``gl.smoothgrad(..., device="cuda")`` and ``gl.clime`` on the
same network exported to the native engine; LIME and KernelSHAP on the GPU against the CPU
engine. Then Captum's NoiseTunnel (SmoothGrad) on the CIFAR ResNet-18 of bench/torch_nets.py
against gradlime's torch path on the same GPU.

Each timing is the best of --repeat runs after a warm-up, synchronised; the CPU engine's answer
for a subset of points is checked against the GPU's (relative max difference).

    python bench/gpu_vs_torch.py [--repeat 5] [--points 2000] [--samples 1000]

Needs a CUDA GPU, a gradlime built with the CUDA backend, torch with CUDA, and captum.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np

import gradlime as gl
from gradlime.models import network_of


def best(fn, repeat: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times)


def elu_layers(widths: list[int], seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    layers: list[tuple] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(("dense", rng.normal(size=(b, a)) / np.sqrt(a), rng.normal(size=b) * 0.1))
        layers.append(
            ("act", "elu", 1.0, 0.0) if i < len(widths) - 2 else ("act", "softmax", 0.0, 0.0)
        )
    return layers


def torch_net(torch, layers):
    mods = []
    for layer in layers:
        if layer[0] == "dense":
            lin = torch.nn.Linear(layer[1].shape[1], layer[1].shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(layer[1]))
                lin.bias.copy_(torch.tensor(layer[2]))
            mods.append(lin)
        else:
            mods.append(torch.nn.ELU() if layer[1] == "elu" else torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*mods).cuda().eval()


def masked_methods(model, X, widths, repeat: int, sync) -> None:
    """LIME (1000 masks a point) and KernelSHAP (512 coalitions over 20 background rows) on the
    GPU against the CPU engine of this machine, 200 points (the CPU's time scaled to all)."""
    bg = np.random.default_rng(2).normal(size=(20, X.shape[1]))
    calls = {
        "lime": lambda P, **kw: gl.lime(model, P, n_samples=1000, **kw),
        "kernel_shap": lambda P, **kw: gl.kernel_shap(model, P, baseline=bg, n_samples=512, **kw),
    }
    for name, call in calls.items():
        t_gpu = best(lambda call=call: call(X, device="cuda"), repeat, sync)
        t_cpu = best(lambda call=call: call(X[:200]), 1, sync) * len(X) / 200
        cpu, gpu = call(X[:50]).values, call(X[:50], device="cuda").values
        err = float(np.max(np.abs(gpu - cpu)) / np.max(np.abs(cpu)))
        print(
            f"{'-'.join(map(str, widths)):>14} {name:>11}: gradlime cpu {t_cpu:8.3f} s (scaled), "
            f"cuda {t_gpu:8.3f} s ({t_cpu / t_gpu:6.1f}x); CPU vs GPU relative difference {err:.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--sigma", type=float, default=0.5)
    args = parser.parse_args()
    if not gl.cuda_available():
        sys.exit(f"no CUDA device for gradlime: {gl.cuda_info()}")
    import torch

    sync = torch.cuda.synchronize
    N, n, s = args.points, args.samples, args.sigma
    print(f"device: {torch.cuda.get_device_name(0)}; {N} points x {n} samples, sigma {s}")
    for widths in ([15, 10, 10, 2], [100, 256, 256, 2]):
        layers = elu_layers(widths)
        model = gl.Model._native(network_of(layers), layers, 1, None)
        net = torch_net(torch, layers)
        d = widths[0]
        X = np.random.default_rng(1).normal(size=(N, d))
        Xt = torch.tensor(X, dtype=torch.float32, device="cuda")

        def torch_smoothgrad(net=net, Xt=Xt, d=d):
            z = torch.randn(N, n, d, device="cuda")
            a = (Xt[:, None, :] + s * z).reshape(-1, d).requires_grad_(True)
            (g,) = torch.autograd.grad(net(a)[:, 1].sum(), a)
            return g.reshape(N, n, d).mean(1)

        def torch_clime(net=net, Xt=Xt, d=d):
            z = torch.randn(N, n, d, device="cuda")
            with torch.no_grad():
                f = net((Xt[:, None, :] + s * z).reshape(-1, d))[:, 1].reshape(N, n, 1)
                A = torch.cat([torch.ones(N, n, 1, device="cuda"), z], 2)
                w = torch.linalg.solve(A.transpose(1, 2) @ A, A.transpose(1, 2) @ f)
            return w[:, 1:, 0] / s

        kw = {"sigma": s, "n_samples": n, "seed": 0}
        rows = {
            "smoothgrad": (
                torch_smoothgrad,
                lambda m=model, X=X, kw=kw: gl.smoothgrad(m, X, device="cuda", **kw),
            ),
            "clime": (torch_clime, lambda m=model, X=X, kw=kw: gl.clime(m, X, device="cuda", **kw)),
        }
        for name, (by_hand, ours) in rows.items():
            t_torch, t_ours = best(by_hand, args.repeat, sync), best(ours, args.repeat, sync)
            cpu = getattr(gl, name)(model, X[:50], **kw).values
            gpu = getattr(gl, name)(model, X[:50], device="cuda", **kw).values
            err = float(np.max(np.abs(gpu - cpu)) / np.max(np.abs(cpu)))
            print(
                f"{'-'.join(map(str, widths)):>14} {name:>10}: torch by hand {1e3 * t_torch:8.2f} ms, "
                f"gradlime cuda {1e3 * t_ours:8.2f} ms ({t_torch / t_ours:5.2f}x); "
                f"CPU vs GPU relative difference {err:.1e}"
            )
        masked_methods(model, X, widths, args.repeat, sync)
    try:
        from captum.attr import NoiseTunnel, Saliency

        sys.path.insert(0, "bench")
        from torch_nets import resnet18
    except ImportError as exc:
        print(f"Captum comparison skipped: {exc}")
        return
    cnn = resnet18().cuda().eval()
    images = torch.randn(32, 3, 32, 32, device="cuda")
    tunnel = NoiseTunnel(Saliency(cnn))

    def captum():
        return tunnel.attribute(images, nt_type="smoothgrad", nt_samples=50, stdevs=0.1, target=0)

    m = gl.Model.from_torch(cnn, target=0, device="cuda")
    arr = images.cpu().double().numpy()

    def ours():
        return gl.smoothgrad(m, arr, sigma=0.1, n_samples=50, device="cuda")

    t_c, t_g = best(captum, args.repeat, sync), best(ours, args.repeat, sync)
    print(f"ResNet-18, 32 images x 50: Captum {t_c:.3f} s, gradlime {t_g:.3f} s ({t_c / t_g:.2f}x)")


if __name__ == "__main__":
    main()
