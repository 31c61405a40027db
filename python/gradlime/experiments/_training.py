"""The experiments' networks: ELU MLPs and a small ELU CNN trained with torch (Adam,
cross-entropy), normally or adversarially (PGD in the L-inf ball, Madry et al. 2018), exported to
ONNX; an exported MLP runs natively (``Model.from_onnx(engine="native")``), a CNN (whose
convolutions the native engine does not run) through the torch path (``Model.from_torch``)."""

from __future__ import annotations

import io
import itertools
import math
import pathlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._onnx import NotNative
from ..models import Model


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "training the papers' models needs torch: pip install 'gradlime[experiments]'"
        ) from exc
    return torch


def mlp(d: int, hidden: Sequence[int], classes: int) -> Any:
    """d-hidden-classes, ELU between the layers, logits out."""
    torch = import_torch()
    widths = [d, *hidden]
    mods: list[Any] = []
    for a, b in itertools.pairwise(widths):
        mods += [torch.nn.Linear(a, b), torch.nn.ELU()]
    return torch.nn.Sequential(*mods, torch.nn.Linear(widths[-1], classes))


def cnn(side: int, classes: int) -> Any:
    """(N, 1, side, side) images: a 3x3 convolution of 8 channels, a 3x3 convolution of 16 at
    stride 2, ELU after each, a linear layer to the logits."""
    nn = import_torch().nn
    half = (side + 1) // 2
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ELU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ELU(),
        nn.Flatten(),
        nn.Linear(16 * half * half, classes),
    )


_HEADS = {"softmax": "Softmax", "log_softmax": "LogSoftmax"}


@dataclass(frozen=True)
class Network:
    """A trained classifier (a torch module of logits, in eval mode), its test points (in the
    module's input shape), their labels and its accuracy on them."""

    module: Any
    X_test: np.ndarray
    y_test: np.ndarray
    accuracy: float
    pgd_eps: float = 0.0  # the adversarial training's radius (0: trained normally)
    _onnx: dict[str | None, bytes] = field(default_factory=dict, repr=False, compare=False)

    def _with_head(self, head: str | None) -> Any:
        torch = import_torch()
        if head is None:
            return self.module
        return torch.nn.Sequential(self.module, getattr(torch.nn, _HEADS[head])(dim=1))

    def onnx(self, head: str | None = "softmax") -> bytes:
        """The module with its head (softmax, log_softmax or None: the logits) as an ONNX file's
        bytes (opset 17, any batch size)."""
        if head not in self._onnx:
            torch = import_torch()
            buf = io.BytesIO()
            example = torch.zeros((1, *self.X_test.shape[1:]))
            with warnings.catch_warnings():  # the TorchScript exporter (no onnxscript needed)
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    self._with_head(head),
                    (example,),
                    buf,
                    input_names=["x"],
                    output_names=["y"],
                    dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                    opset_version=17,
                    dynamo=False,
                )
            self._onnx[head] = buf.getvalue()
        return self._onnx[head]

    def save(self, path: Any, head: str | None = "softmax") -> pathlib.Path:
        out = pathlib.Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self.onnx(head))
        return out

    def model(self, target: int, head: str | None = "softmax") -> Model:
        """Output `target` of the probabilities (head "softmax"), their log ("log_softmax") or
        the logits (None): the exported ONNX file natively when the engine runs its graph, else
        the module through torch (image-shaped inputs, convolutions)."""
        if self.X_test.ndim == 2:  # the native engine takes (batch, features) graphs
            try:
                return Model.from_onnx(self.onnx(head), target=target, engine="native")
            except NotNative:
                pass
        return Model.from_torch(self._with_head(head), target=target)


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The 80/20 split of n points."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return order[:cut], order[cut:]


def train(
    module: Any,
    X: np.ndarray,
    y: np.ndarray,
    epochs: float,
    seed: int = 0,
    *,
    lr: float = 1e-2,
    pgd_eps: float = 0.0,
    pgd_steps: int = 5,
) -> Network:
    """Adam (batches of 32) on the cross-entropy for `epochs` epochs (a fraction: that share of
    one epoch's batches) on 80% of the points; with pgd_eps > 0 on PGD adversarial examples in
    the L-inf ball of that radius (`pgd_steps` steps of eps / 4). The module is initialised from
    `seed` before training."""
    torch = import_torch()
    tr, te = split(len(X), seed)
    torch.manual_seed(seed)
    for layer in module.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    Xt, yt = torch.tensor(X[tr], dtype=torch.float32), torch.tensor(y[tr])
    gen = torch.Generator().manual_seed(seed)
    loss_of = torch.nn.functional.cross_entropy
    steps = math.ceil(epochs * math.ceil(len(tr) / 32))
    module.train()
    while steps > 0:
        for idx in torch.randperm(len(tr), generator=gen).split(32)[:steps]:
            xb, yb = Xt[idx], yt[idx]
            if pgd_eps > 0:
                delta = torch.zeros_like(xb, requires_grad=True)
                for _ in range(pgd_steps):
                    (g,) = torch.autograd.grad(loss_of(module(xb + delta), yb), delta)
                    with torch.no_grad():
                        delta += (pgd_eps / 4) * g.sign()
                        delta.clamp_(-pgd_eps, pgd_eps)
                xb = (xb + delta).detach()
            opt.zero_grad()
            loss_of(module(xb), yb).backward()
            opt.step()
            steps -= 1
    module.eval()
    with torch.no_grad():
        pred = module(torch.tensor(X[te], dtype=torch.float32)).argmax(1).numpy()
    return Network(module, X[te], y[te], float((pred == y[te]).mean()), pgd_eps)


def train_mlp(
    X: np.ndarray, y: np.ndarray, hidden: Sequence[int], epochs: float, seed: int = 0, **kw: Any
) -> Network:
    """An ELU MLP d-hidden-K trained as `train` says."""
    return train(mlp(X.shape[1], hidden, int(y.max()) + 1), X, y, epochs, seed, **kw)
