"""Paper 1, section 6 (Figures 2 and 3): SmoothGrad and C-LIME converge to one explanation, and
both are robust, as the number of perturbations grows.

Datasets: the Simulated set exactly as described (1000 points, y uniform in {0, 1},
x ~ N(mu_y, I_2), mu_0 = (-1, -1), mu_1 = (1, 1)), and scikit-learn's breast-cancer set (569
points, 30 features) standing in for the paper's Bankruptcy and Online Shopping sets (which
cannot be fetched here), features normalised to mean 0 and variance 1. Models: two hidden layers
of 10 ELU units and a softmax head, Adam on the cross-entropy, an 80/20 split; explained: the
probability of class 1, natively (the trained weights become a native network, as an ONNX file
of them would). Equivalence: the mean over the test split of ||SmoothGrad - C-LIME||_1 at
sigma^2 = 1 against n. Robustness: the mean over the test split of the max L1 distance between
the explanation at x and at 10 neighbours x' ~ N(x, 0.01 I), fresh draws for each (paper 1's
protocol), against n.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import explain, lipschitz
from ..models import Model
from ._bar import bar
from ._figures import write_csv
from ._training import Network, train_mlp

__all__ = ["Trained", "datasets", "equivalence", "robustness", "run", "train"]

#: Perturbation counts of the figures, and of --quick; a dataset uses those >= d + 2 (C-LIME's
#: least squares needs an intercept, d slopes and a degree of freedom).
N_GRID = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
QUICK_GRID = (10, 50, 100, 200)
EPOCHS = {
    "simulated": 15,
    "breast_cancer": 60,
    "diabetes": 60,
    "bankruptcy": 60,
    "online_shopping": 100,
}
#: The paper's own datasets, read from a local folder when a user has them (they cannot be
#: fetched here): numeric CSVs, label last.
UCI_FILES = {"bankruptcy": "bankruptcy.csv", "online_shopping": "online_shopping.csv"}
#: The under-trained models of the accuracy figure: shares of one epoch's batches.
UNDER_TRAINED = (0.05, 0.2)


def datasets(seed: int = 0, uci: Any = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(X normalised to N(0, 1) per feature, y) of each dataset: the Simulated set, the
    breast-cancer set (scikit-learn), gradlime's diabetes set with y = progression above its
    median, and the paper's own UCI sets where the folder `uci` holds them (UCI_FILES: a CSV
    with a header row, numeric features, the 0/1 label last)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=1000)
    mu = np.where(y[:, None] == 1, 1.0, -1.0) * np.ones((1000, 2))
    sets = {"simulated": (mu + rng.normal(size=(1000, 2)), y)}
    from sklearn.datasets import load_breast_cancer

    from ..datasets import diabetes

    bc = load_breast_cancer()
    sets["breast_cancer"] = (bc.data, bc.target)
    Xd, yd = diabetes()
    sets["diabetes"] = (Xd, (yd > np.median(yd)).astype(np.int64))
    for name, file in UCI_FILES.items():
        path = pathlib.Path(uci) / file if uci is not None else None
        if path is not None and path.exists():
            table = np.loadtxt(path, delimiter=",", skiprows=1)
            sets[name] = (table[:, :-1], table[:, -1].astype(np.int64))
    return {k: ((X - X.mean(0)) / X.std(0), y) for k, (X, y) in sets.items()}


@dataclass(frozen=True)
class Trained:
    model: Model
    X_test: np.ndarray
    accuracy: float
    network: Network


def train(X: np.ndarray, y: np.ndarray, epochs: float, seed: int = 0) -> Trained:
    """The paper's network (d-10-10-2, ELU, softmax), Adam (lr 1e-2, batches of 32) on the
    cross-entropy for `epochs` epochs (a fraction: that share of one epoch's batches) on 80% of
    the points; its class-1 probability from the exported ONNX file (natively), and its accuracy
    on the other 20%."""
    net = train_mlp(X, y, (10, 10), epochs, seed)
    return Trained(net.model(1), net.X_test, net.accuracy, net)


def equivalence(
    t: Trained, n_grid: Sequence[int], sigma2: float = 1.0, seed: int = 0
) -> list[float]:
    """Mean ||SmoothGrad - C-LIME||_1 over the test split, for each n."""
    out = []
    for n in n_grid:
        E = explain(
            t.model,
            t.X_test,
            methods=("smoothgrad", "clime"),
            sigma=np.sqrt(sigma2),
            n_samples=max(n, t.X_test.shape[1] + 2),
            seed=seed,
        )
        out.append(float(np.abs(E["smoothgrad"].values - E["clime"].values).sum(1).mean()))
    return out


def explanation_size(t: Trained, n: int, seed: int = 0) -> float:
    """The mean L1 norm of SmoothGrad's explanations over the test split (sigma^2 = 1, n
    samples): the scale against which the accuracy figure's distances can be read."""
    E = explain(t.model, t.X_test, methods=("smoothgrad",), n_samples=n, seed=seed)
    return float(np.abs(E["smoothgrad"].values).sum(1).mean())


def robustness(
    t: Trained, method: str, n_grid: Sequence[int], sigma2: float = 1.0, seed: int = 0
) -> list[float]:
    """Mean over the test split of the max L1 distance to 10 neighbours N(x, 0.01 I)."""
    return [
        lipschitz(
            t.model,
            t.X_test,
            method,
            radius=0.1,
            n_neighbors=10,
            distance="l1",
            ratio=False,
            common_random_numbers=False,
            seed=seed,
            sigma=np.sqrt(sigma2),
            n_samples=n,
        ).mean
        for n in n_grid
    ]


def run(
    out: Any, quick: bool = False, seed: int = 0, uci: Any = None, progress: bool = False
) -> dict[str, pathlib.Path]:
    """Figures 2-5 (the sensitivity figures on the breast-cancer set, standing in for the
    paper's Bankruptcy set) and appendix E's (the sensitivity figures of every other dataset;
    not with `quick`) as CSVs and, with matplotlib, PNGs in the folder `out`: equivalence and
    robustness on every dataset; both against sigma^2 in {0.01, 0.1, 1}; both for models trained
    on 5% and 20% of one epoch's batches and fully; and Theorem 2's counterexample
    (paper1_theorem2.csv). `uci`: a folder with the paper's own datasets (UCI_FILES). Each
    trained network is written as an ONNX file (models/paper1_<dataset>.onnx) and explained from
    it natively. Returns the files written, by name."""
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sets = datasets(seed, uci)
    focus = "breast_cancer"
    sensitive = [focus] if quick else [focus, *(k for k in sets if k != focus)]
    steps = bar(2 * len(sets) + (3 + len(UNDER_TRAINED)) * len(sensitive) + 1, "paper 1", progress)
    trained, grids, written = {}, {}, {}
    for name, (X, y) in sets.items():
        grids[name] = [n for n in (QUICK_GRID if quick else N_GRID) if n >= X.shape[1] + 2]
        trained[name] = _subset(train(X, y, EPOCHS[name], seed), quick)
        onnx = f"models/paper1_{name}.onnx"
        written[onnx] = trained[name].network.save(folder / onnx)
        steps.update()
    eq_rows, rob_rows = [], []
    for name, t in trained.items():
        for n, v in zip(grids[name], equivalence(t, grids[name], seed=seed), strict=True):
            eq_rows.append((name, n, 1.0, v))
        for method in METHODS:
            for n, v in zip(
                grids[name], robustness(t, method, grids[name], seed=seed), strict=True
            ):
                rob_rows.append((name, method, n, v))
        steps.update()
    sigma_rows, acc_rows = [], []
    for name in sensitive:
        for sigma2 in (0.01, 0.1, 1.0):
            sigma_rows += [
                (name, sigma2, curve, n, v)
                for curve, n, v in _curves(trained[name], grids[name], sigma2, seed)
            ]
            steps.update()
        for epochs in (*UNDER_TRAINED, EPOCHS[name]):
            t = _subset(train(*sets[name], epochs, seed), quick)
            size = explanation_size(t, grids[name][-1], seed)
            acc_rows += [
                (name, epochs, round(t.accuracy, 4), size, curve, n, v)
                for curve, n, v in _curves(t, grids[name], 1.0, seed)
            ]
            steps.update()
    files = {
        "paper1_equivalence.csv": ("dataset", "n_samples", "sigma2", "mean_l1_distance"),
        "paper1_robustness.csv": ("dataset", "method", "n_samples", "mean_max_l1_distance"),
        "paper1_sigma.csv": ("dataset", "sigma2", "curve", "n_samples", "mean_l1_distance"),
        "paper1_accuracy.csv": (
            "dataset",
            "epochs",
            "test_accuracy",
            "explanation_l1_norm",
            "curve",
            "n_samples",
            "mean_l1_distance",
        ),
        "paper1_theorem2.csv": ("sigma", "measured_lipschitz", "stated_bound", "certified_bound"),
    }
    data: dict[str, list[tuple[Any, ...]]] = dict(
        zip(
            files,
            (eq_rows, rob_rows, sigma_rows, acc_rows, theorem2((0.5, 1.0, 2.0), 200_000, seed)),
            strict=True,
        )
    )
    steps.update()
    steps.close()
    written.update(
        {name: write_csv(folder / name, header, data[name]) for name, header in files.items()}
    )
    try:
        written.update(_figures(folder, eq_rows, rob_rows, sigma_rows, acc_rows))
    except ImportError:  # no matplotlib: the CSVs alone
        pass
    return written


def theorem2(sigmas: Sequence[float], n_samples: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """Paper 1's Theorem 2 on its counterexample f(x) = |x| (||grad f|| <= 1): rows (sigma,
    SmoothGrad's measured local Lipschitz at 0, the theorem's grad_max / (2 sigma), the certified
    sqrt(2 / pi) / sigma of gl.theory): the measured one exceeds the stated bound."""
    from .. import theory

    f = Model(lambda A: np.abs(A[:, 0]), grad=lambda A: np.sign(A))
    rows: list[tuple[Any, ...]] = []
    for s in sigmas:
        L = lipschitz(
            f,
            np.zeros((1, 1)),
            "smoothgrad",
            radius=0.01,
            n_neighbors=20,
            sigma=s,
            n_samples=n_samples,
            seed=seed,
        ).values[0]
        rows.append(
            (
                float(s),
                float(L),
                theory.smoothgrad_lipschitz_bound_from_gradient(1.0, s),
                theory.smoothgrad_lipschitz_bound(1.0, s),
            )
        )
    return rows


METHODS = ("smoothgrad", "clime")
CURVES = ("equivalence", "smoothgrad robustness", "clime robustness")


def _subset(t: Trained, quick: bool) -> Trained:
    return Trained(t.model, t.X_test[:40], t.accuracy, t.network) if quick else t


def _curves(
    t: Trained, n_grid: Sequence[int], sigma2: float, seed: int
) -> list[tuple[str, int, float]]:
    """(curve, n, value) of the three curves of a sensitivity panel set."""
    out = [
        ("equivalence", n, v)
        for n, v in zip(n_grid, equivalence(t, n_grid, sigma2, seed), strict=True)
    ]
    for method in METHODS:
        values = robustness(t, method, n_grid, sigma2, seed)
        out += [(f"{method} robustness", n, v) for n, v in zip(n_grid, values, strict=True)]
    return out


def _figures(
    folder: pathlib.Path,
    eq_rows: list[tuple[Any, ...]],
    rob_rows: list[tuple[Any, ...]],
    sigma_rows: list[tuple[Any, ...]],
    acc_rows: list[tuple[Any, ...]],
) -> dict[str, pathlib.Path]:
    from ._figures import panels

    def curves(
        rows: list[tuple[Any, ...]], key: int, label: int, name: str = "{}"
    ) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for r in rows:
            out.setdefault(name.format(r[label]), []).append((r[key], r[-1]))
        return out

    n_label, l1 = "perturbations n", "mean L1 distance"
    names = list(dict.fromkeys(r[0] for r in eq_rows))
    figs = {
        "paper1_equivalence.png": panels(
            folder / "paper1_equivalence.png",
            [("Equivalence (paper 1, Fig. 2), sigma^2 = 1", curves(eq_rows, 1, 0))],
            n_label,
            "mean L1(SmoothGrad, C-LIME)",
        ),
        "paper1_robustness.png": panels(
            folder / "paper1_robustness.png",
            [
                (f"Robustness (Fig. 3): {d}", curves([r for r in rob_rows if r[0] == d], 2, 1))
                for d in names
            ],
            n_label,
            "mean max L1 to neighbours",
        ),
    }
    for dataset in dict.fromkeys(r[0] for r in sigma_rows):
        tag = "" if dataset == "breast_cancer" else f"_{dataset}"  # Figs. 4-5, else appendix E
        for name, rows, by, label in (
            (f"paper1_sigma{tag}.png", sigma_rows, 1, "sigma^2 = {}"),
            (f"paper1_accuracy{tag}.png", acc_rows, 2, "{:.1%} accurate"),
        ):
            mine = [r for r in rows if r[0] == dataset]
            figs[name] = panels(
                folder / name,
                [
                    (
                        f"{dataset}: {curve}",
                        curves([r for r in mine if r[-3] == curve], -2, by, label),
                    )
                    for curve in CURVES
                ],
                n_label,
                l1,
            )
    return figs
