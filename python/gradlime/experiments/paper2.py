"""Paper 2 (Robust explanation for free or at the cost of faithfulness), sections 5-6 at small
scale: the toy function of eq. (2) (Figure 2b), and on scikit-learn's digits (8x8 images,
pixels in [0, 1]) an MLP (flat pixels, explained natively from its ONNX export) and a small CNN
((N, 1, 8, 8) images, explained through torch) trained normally and adversarially (PGD, L-inf,
at several radii): the six methods' local Lipschitz (eq. (4)) on each (the analogue of Table 1)
and its rank correlation with the models' own (Figure 3), robustness against faithfulness across
the methods (Figure 6), and SmoothGrad's local Lipschitz and faithfulness against sigma (Figures
4 and 5) through ``gl.tradeoff``.

Each test point is explained at its own label's logit (a native model per class: the
probability, and its log, saturate on confident predictions, and their vanishing gradients would
make every method look robust and faithful); the means are over the test points.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import Model, lipschitz, smoothgrad, tradeoff
from ..metrics import _spearman
from ..tradeoff import robustness_and_faithfulness
from ._bar import bar
from ._figures import write_csv
from ._training import Network, cnn, train, train_mlp

__all__ = [
    "DELTA",
    "digits",
    "networks",
    "rank_correlations",
    "run",
    "sigma_curves",
    "table1",
    "toy",
    "toy_model",
]

DELTA = 0.1
#: The adversarial training radii (L-inf, pixels in [0, 1]): 0 is the normally trained model.
PGD_EPS = (0.0, 0.03, 0.1, 0.2)
SIX = ("gradient", "grad_x_input", "integrated_gradients", "smoothgrad", "lime", "kernel_shap")


def toy_model(delta: float = DELTA) -> Model:
    """Eq. (2): f = x1 - n delta where floor(|x1 - x2| / delta) = 2n, x2 + n delta where it is
    2n - 1; its gradient (eq. (3)) [1, 0] or [0, 1]."""

    def parts(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.floor(np.abs(A[:, 0] - A[:, 1]) / delta)
        return k, (k % 2 == 0)

    def f(A: np.ndarray) -> np.ndarray:
        k, even = parts(A)
        return np.where(even, A[:, 0] - (k / 2) * delta, A[:, 1] + ((k + 1) / 2) * delta)

    def grad(A: np.ndarray) -> np.ndarray:
        _, even = parts(A)
        return np.stack([even, ~even], axis=1).astype(np.float64)

    return Model(f, grad=grad)


def toy(sigmas: Sequence[float], n_samples: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """SmoothGrad's attributions of x = [delta, -1.5 delta] against sigma (Figure 2b): rows
    (sigma / delta, phi_1, phi_2)."""
    x = np.array([DELTA, -1.5 * DELTA])
    rows: list[tuple[Any, ...]] = []
    for s in sigmas:
        phi = smoothgrad(toy_model(), x, sigma=s * DELTA, n_samples=n_samples, seed=seed).values
        rows.append((float(s), float(phi[0]), float(phi[1])))
    return rows


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target


def networks(quick: bool, seed: int = 0) -> dict[str, Network]:
    """The MLP (64-64-32-10) and the small CNN (``_training.cnn``) on digits, trained normally
    and with PGD at each radius of PGD_EPS (the CNN at 0 and 0.1 only with `quick`): by name,
    "mlp", "mlp_pgd0.03", ..., "cnn", "cnn_pgd0.1", ..."""
    X, y = digits()
    images = X.reshape(-1, 1, 8, 8)
    nets = {}
    for eps in PGD_EPS:
        tag = f"_pgd{eps:g}" if eps else ""
        nets["mlp" + tag] = train_mlp(X, y, (64, 32), 10 if quick else 30, seed, pgd_eps=eps)
    for eps in (0.0, 0.1) if quick else PGD_EPS:
        tag = f"_pgd{eps:g}" if eps else ""
        nets["cnn" + tag] = train(cnn(8, 10), images, y, 5 if quick else 30, seed, pgd_eps=eps)
    return nets


def _by_label(net: Network, limit: int | None) -> list[tuple[Model, np.ndarray]]:
    X, y = net.X_test[:limit], net.y_test[:limit]
    return [(net.model(int(c), head=None), X[y == c]) for c in np.unique(y)]


def _model_values(model: Model, X: np.ndarray) -> np.ndarray:
    """The model's own output as a one-feature "explanation": lipschitz of it is the model's
    local Lipschitz (its robustness)."""
    return np.asarray(model(X))[:, None]


def table1(
    nets: dict[str, Network], limit: int | None, n_neighbors: int, n_samples: int, seed: int = 0
) -> list[tuple[Any, ...]]:
    """Rows (model, eps, method, mean_lipschitz, mean_faithfulness): each method's mean local
    Lipschitz over the test points (radius 0.05, common random numbers) and the mean
    faithfulness of its explanations (inverse L2, reference 0); method "model" is the model's
    own local Lipschitz (no faithfulness)."""
    kw: dict[str, dict[str, Any]] = {
        "smoothgrad": {"sigma": 0.1, "n_samples": n_samples},
        "lime": {"n_samples": n_samples},
        "kernel_shap": {"n_samples": n_samples},
        "integrated_gradients": {"n_steps": 16},
    }
    rows = []
    for name, net in nets.items():
        groups = _by_label(net, limit)
        own = [
            lipschitz(m, X, _model_values, radius=0.05, n_neighbors=n_neighbors, seed=seed).values
            for m, X in groups
        ]
        rows.append((name, net.pgd_eps, "model", float(np.mean(np.concatenate(own))), np.nan))
        for method in SIX:
            both = np.concatenate(
                [
                    robustness_and_faithfulness(
                        m,
                        X,
                        method,
                        kw.get(method, {}),
                        radius=0.05,
                        n_neighbors=n_neighbors,
                        seed=seed,
                    )
                    for m, X in groups
                ],
                axis=1,
            )
            rows.append(
                (name, net.pgd_eps, method, float(np.mean(both[0])), float(np.mean(both[1])))
            )
    return rows


def rank_correlations(
    rows: list[tuple[Any, ...]], architecture: str = "all"
) -> list[tuple[Any, ...]]:
    """Rows (method, spearman): over the models of one architecture ("mlp", "cnn", or "all" of
    them), the Spearman rank correlation between the model's local Lipschitz and its
    explanations' (paper 2, Figure 3's titles)."""
    models = [
        m
        for m in dict.fromkeys(r[0] for r in rows)
        if architecture == "all" or m.split("_")[0] == architecture
    ]
    lip = {(r[0], r[2]): r[3] for r in rows}
    own = np.array([lip[(m, "model")] for m in models])
    return [
        (method, _spearman(own, np.array([lip[(m, method)] for m in models]))) for method in SIX
    ]


def sigma_curves(
    nets: dict[str, Network],
    sigmas: Sequence[float],
    limit: int | None,
    n_neighbors: int,
    n_samples: int,
    seed: int = 0,
) -> list[tuple[Any, ...]]:
    """Rows (model, sigma, lipschitz, faithfulness): SmoothGrad's mean local Lipschitz and mean
    faithfulness (inverse L2, reference 0) at each sigma (Figures 4 and 5)."""
    rows = []
    for name, net in nets.items():
        groups = _by_label(net, limit)
        sums = np.zeros((2, len(sigmas)))
        for m, X in groups:
            T = tradeoff(
                m,
                X,
                sigmas=sigmas,
                radius=0.05,
                n_neighbors=n_neighbors,
                n_samples=n_samples,
                seed=seed,
            )
            sums += len(X) * np.stack([T.lipschitz, T.faithfulness])
        means = sums / sum(len(X) for _, X in groups)
        rows += [(name, float(s), means[0, i], means[1, i]) for i, s in enumerate(sigmas)]
    return rows


def run(
    out: Any, quick: bool = False, seed: int = 0, progress: bool = False
) -> dict[str, pathlib.Path]:
    """The toy figure and, on digits, Table 1 and the sigma curves: CSVs (paper2_toy.csv,
    paper2_table1.csv, paper2_sigma.csv) and, with matplotlib, PNGs in `out`."""
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    steps = bar(4, "paper 2", progress)
    written: dict[str, pathlib.Path] = {}
    toy_rows = toy([0.1, 0.3, 1, 3, 10, 30, 100], 2000 if quick else 20000, seed)
    steps.update()
    nets = networks(quick, seed)
    for name, net in nets.items():
        written[f"models/{name}.onnx"] = net.save(folder / "models" / f"{name}.onnx", head=None)
    steps.update()
    limit, k, n = (30, 5, 128) if quick else (None, 20, 512)
    sigmas = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    t1 = table1(nets, limit, k, n, seed)
    steps.update()
    curves = ("mlp", "mlp_pgd0.1", "cnn", "cnn_pgd0.1")
    sig = sigma_curves({k2: nets[k2] for k2 in curves}, sigmas, limit, k, n, seed)
    steps.update()
    steps.close()
    files = {
        "paper2_toy.csv": (("sigma_over_delta", "phi_1", "phi_2"), toy_rows),
        "paper2_table1.csv": (
            ("model", "robust", "method", "mean_lipschitz"),
            [(r[0], r[1] > 0, r[2], r[3]) for r in t1],
        ),
        "paper2_rank.csv": (
            ("architecture", "method", "spearman"),
            [(arch, *r) for arch in ("mlp", "cnn", "all") for r in rank_correlations(t1, arch)],
        ),
        "paper2_methods.csv": (
            ("model", "method", "lipschitz", "faithfulness"),
            [(r[0], r[2], r[3], r[4]) for r in t1 if r[2] != "model"],
        ),
        "paper2_sigma.csv": (("model", "sigma", "lipschitz", "faithfulness"), sig),
        "paper2_accuracy.csv": (
            ("model", "test_accuracy"),
            [(k2, v.accuracy) for k2, v in nets.items()],
        ),
    }
    written.update(
        {name: write_csv(folder / name, header, rows) for name, (header, rows) in files.items()}
    )
    try:
        written.update(_figures(folder, toy_rows, sig, t1))
    except ImportError:
        pass
    return written


def _figures(
    folder: pathlib.Path,
    toy_rows: list[tuple[Any, ...]],
    sig: list[tuple[Any, ...]],
    t1: list[tuple[Any, ...]],
) -> dict[str, pathlib.Path]:
    from ._figures import marked_curves, panels

    toy_png = panels(
        folder / "paper2_toy.png",
        [
            (
                "SmoothGrad on eq. (2) at x = [d, -1.5 d] (Fig. 2b)",
                {
                    "phi_1": [(r[0], r[1]) for r in toy_rows],
                    "phi_2": [(r[0], r[2]) for r in toy_rows],
                },
            )
        ],
        "sigma / delta",
        "attribution",
    )
    models = list(dict.fromkeys(r[0] for r in sig))
    sig_png = panels(
        folder / "paper2_sigma.png",
        [
            (
                "SmoothGrad's local Lipschitz (Fig. 4)",
                {m: [(r[1], r[2]) for r in sig if r[0] == m] for m in models},
            ),
            (
                "SmoothGrad's faithfulness (Fig. 5)",
                {m: [(r[1], r[3]) for r in sig if r[0] == m] for m in models},
            ),
        ],
        "sigma",
        "mean over test points",
    )
    # Figure 6: each model's methods, Lipschitz divided by the largest of its methods'.
    trade: dict[str, list[tuple[float, float, str]]] = {}
    for model in dict.fromkeys(r[0] for r in t1):
        mine = [r for r in t1 if r[0] == model and r[2] != "model"]
        top = max(r[3] for r in mine)
        trade[model] = sorted((r[3] / top, r[4], r[2]) for r in mine)
    methods_png = marked_curves(
        folder / "paper2_methods.png",
        trade,
        "Robustness and faithfulness of the six methods (Fig. 6)",
        "local Lipschitz / the largest of the six",
        "mean faithfulness",
    )
    return {
        "paper2_toy.png": toy_png,
        "paper2_sigma.png": sig_png,
        "paper2_methods.png": methods_png,
    }
