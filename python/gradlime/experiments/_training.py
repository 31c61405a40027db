"""The experiments' networks: ELU MLPs trained with torch (Adam, cross-entropy), normally or
adversarially (PGD in the L-inf ball, Madry et al. 2018), and their softmax outputs as native
gradlime models (the trained weights as a native network, as an ONNX file of them would run)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models import Model, network_of


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "training the papers' models needs torch: pip install 'gradlime[torch]'"
        ) from exc
    return torch


@dataclass(frozen=True)
class Network:
    """A trained classifier: its layers (gradlime's parsed form), test points and accuracy."""

    layers: list[tuple[Any, ...]]
    X_test: np.ndarray
    y_test: np.ndarray
    accuracy: float
    pgd_eps: float = 0.0  # the adversarial training's radius (0: trained normally)

    def model(self, target: int, head: str | None = "softmax") -> Model:
        """The probability of class `target` (head "softmax"), its log ("log_softmax") or its
        logit (None), natively."""
        layers = self.layers[:-1] + ([("act", head, 0.0, 0.0)] if head else [])
        return Model._native(network_of(layers), layers, target, None)


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The 80/20 split of n points."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return order[:cut], order[cut:]


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    hidden: Sequence[int],
    epochs: float,
    seed: int = 0,
    *,
    lr: float = 1e-2,
    pgd_eps: float = 0.0,
    pgd_steps: int = 5,
) -> Network:
    """An ELU MLP d-hidden-K, Adam (batches of 32) on the cross-entropy for `epochs` epochs (a
    fraction: that share of one epoch's batches) on 80% of the points; with pgd_eps > 0 on PGD
    adversarial examples in the L-inf ball of that radius (`pgd_steps` steps of eps / 4)."""
    torch = import_torch()
    tr, te = split(len(X), seed)
    torch.manual_seed(seed)
    widths = [X.shape[1], *hidden]
    mods: list[Any] = []
    for a, b in itertools.pairwise(widths):
        mods += [torch.nn.Linear(a, b), torch.nn.ELU()]
    net = torch.nn.Sequential(*mods, torch.nn.Linear(widths[-1], int(y.max()) + 1))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.tensor(X[tr], dtype=torch.float32), torch.tensor(y[tr])
    gen = torch.Generator().manual_seed(seed)
    loss_of = torch.nn.functional.cross_entropy
    steps = math.ceil(epochs * math.ceil(len(tr) / 32))
    while steps > 0:
        for idx in torch.randperm(len(tr), generator=gen).split(32)[:steps]:
            xb, yb = Xt[idx], yt[idx]
            if pgd_eps > 0:
                delta = torch.zeros_like(xb, requires_grad=True)
                for _ in range(pgd_steps):
                    (g,) = torch.autograd.grad(loss_of(net(xb + delta), yb), delta)
                    with torch.no_grad():
                        delta += (pgd_eps / 4) * g.sign()
                        delta.clamp_(-pgd_eps, pgd_eps)
                xb = (xb + delta).detach()
            opt.zero_grad()
            loss = loss_of(net(xb), yb)
            loss.backward()
            opt.step()
            steps -= 1
    with torch.no_grad():
        pred = net(torch.tensor(X[te], dtype=torch.float32)).argmax(1).numpy()
    layers: list[tuple[Any, ...]] = []
    for mod in net:
        if isinstance(mod, torch.nn.Linear):
            W, b = mod.weight.detach().double().numpy(), mod.bias.detach().double().numpy()
            layers.append(("dense", W, b))
        else:
            layers.append(("act", "elu", 1.0, 0.0))
    layers.append(("act", "softmax", 0.0, 0.0))
    return Network(layers, X[te], y[te], float((pred == y[te]).mean()), pgd_eps)
