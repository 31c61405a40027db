"""Plots of explanations (matplotlib, the optional ``plot`` extra). Each draws on ``ax`` (a new
figure's when None) and returns the Axes.

- ``attributions(E, i)``: one point's attributions as bars, sorted by size, named, with 95% error
  bars from the standard errors (``E.plot(i)``);
- ``summary(E)``: every point's attributions per feature, features by mean |attribution|, each
  dot coloured by the feature's value there (``E.plot()`` for several points);
- ``convergence(model, x)``: one point's estimates against the number of samples, with their 95%
  bands, for several methods side by side: SmoothGrad, C-LIME and Stein converge to the same
  vector (paper 1, Theorem 1);
- ``tradeoff(T)``: faithfulness against robustness over sigma (``TradeoffResult.plot``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._export import Z95, names_of
from .result import Explanation

__all__ = ["attributions", "convergence", "summary", "tradeoff"]

POSITIVE, NEGATIVE, NEUTRAL = "#d6604d", "#4393c3", "#555555"  # shared with every plot here


def _axes(ax: Any, size: tuple[float, float] = (6.4, 4.0)) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'gradlime[plot]'") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _style(ax: Any, title: str, xlabel: str, ylabel: str = "") -> Any:
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return ax


def attributions(
    E: Explanation, i: int | None = None, *, max_features: int = 20, ax: Any = None
) -> Any:
    """Point i's attributions (the only point's when E has one), largest |value| on top."""
    values, stderr = E.values, E.stderr
    if values.ndim == 2:
        if i is None:
            if len(values) != 1:
                raise ValueError(f"this Explanation has {len(values)} points: say which, plot(i)")
            i = 0
        values, stderr = values[i], stderr[i]
    names = names_of(E)
    order = np.argsort(-np.abs(values), kind="stable")[:max_features][::-1]
    ax = _axes(ax, (6.4, 1.2 + 0.32 * len(order)))
    colours = [POSITIVE if values[k] >= 0 else NEGATIVE for k in order]
    ax.barh(
        np.arange(len(order)),
        values[order],
        xerr=Z95 * stderr[order],
        color=colours,
        error_kw={"ecolor": NEUTRAL, "capsize": 3, "lw": 1},
    )
    ax.set_yticks(np.arange(len(order)), [names[k] for k in order])
    ax.axvline(0.0, color=NEUTRAL, lw=0.8)
    title = E.method
    fx = E.fx if E.fx is None or np.ndim(E.fx) == 0 else np.asarray(E.fx)[i]
    if fx is not None:
        title += f": f(x) = {float(fx):.4g}"
    point = "" if E.values.ndim == 1 else f" {E.index[i] if E.index is not None else i}"
    return _style(ax, f"{title}   point{point}", "attribution (bars: 95% from the standard errors)")


def summary(E: Explanation, *, max_features: int = 20, ax: Any = None) -> Any:
    """Every point's attribution of each feature, features ordered by mean |attribution|."""
    values, data = np.atleast_2d(E.values), np.atleast_2d(E.data)
    names = names_of(E)
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:max_features][::-1]
    ax = _axes(ax, (6.4, 1.2 + 0.32 * len(order)))
    rng = np.random.default_rng(0)  # jitter only: the same picture every time
    span = np.ptp(data, axis=0)
    colour = (data - data.min(axis=0)) / np.where(span > 0, span, 1.0)
    for row, k in enumerate(order):
        jitter = rng.uniform(-0.25, 0.25, size=len(values))
        dots = ax.scatter(
            values[:, k], row + jitter, c=colour[:, k], cmap="coolwarm", vmin=0, vmax=1, s=14
        )
    ax.set_yticks(np.arange(len(order)), [names[k] for k in order])
    ax.axvline(0.0, color=NEUTRAL, lw=0.8)
    ax.figure.colorbar(dots, ax=ax, label="feature value (low to high)", ticks=[])
    return _style(ax, f"{E.method}: {len(values)} points", "attribution")


def convergence(
    model: Any,
    x: Any,
    *,
    methods: Sequence[str] = ("smoothgrad", "clime", "stein"),
    n_samples: Sequence[int] = (100, 300, 1000, 3000, 10000),
    feature: int | str = 0,
    sigma: Any = 1.0,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """One point's estimate of one feature's attribution against n, with 95% bands, for each
    method; the Gaussian estimators share each n's draws (``gl.explain``)."""
    from .explain import explain
    from .registry import REGISTRY

    ns = np.asarray(n_samples, dtype=np.int64)
    ax = _axes(ax)
    estimates = {m: np.empty(len(ns)) for m in methods}
    bands = {m: np.empty(len(ns)) for m in methods}
    engine = [m for m in methods if m in ("smoothgrad", "clime", "stein")]
    names = None
    for j, n in enumerate(ns):
        kw: dict[str, Any] = {"n_samples": int(n), "seed": seed, "feature_names": feature_names}
        found = dict(explain(model, x, engine, sigma=sigma, **kw)) if engine else {}
        for m in methods:
            if m not in found:
                found[m] = REGISTRY[m].function(model, x, **kw)
        for m in methods:
            E = found[m]
            names = names_of(E)
            k = names.index(feature) if isinstance(feature, str) else int(feature)
            estimates[m][j] = np.atleast_2d(E.values)[0, k]
            bands[m][j] = Z95 * np.atleast_2d(E.stderr)[0, k]
    for m in methods:
        line = ax.plot(ns, estimates[m], "o-", label=m, lw=1.5, ms=4)[0]
        ax.fill_between(
            ns, estimates[m] - bands[m], estimates[m] + bands[m], color=line.get_color(), alpha=0.15
        )
    ax.set_xscale("log")
    ax.legend(frameon=False)
    label = feature if isinstance(feature, str) else (names[int(feature)] if names else feature)
    return _style(
        ax,
        f"attribution of {label} against the number of samples (bands: 95%)",
        "n_samples",
        "estimate",
    )


def tradeoff(T: Any, *, ax: Any = None) -> Any:
    """Faithfulness against mean local Lipschitz, one marker per sigma (paper 2, Figure 5), the
    most faithful starred."""
    ax = _axes(ax)
    ax.plot(T.lipschitz, T.faithfulness, "o-", color=NEUTRAL, lw=1.2, ms=5)
    for s, x, y in zip(T.sigmas, T.lipschitz, T.faithfulness, strict=True):
        ax.annotate(f"sigma={s:.3g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=9)
    best = int(np.argmax(T.faithfulness))
    ax.plot(T.lipschitz[best], T.faithfulness[best], "*", color=POSITIVE, ms=14)
    return _style(
        ax,
        f"{T.params.get('method', '')}: robustness-faithfulness trade-off",
        "mean local Lipschitz (lower is more robust)",
        "mean faithfulness",
    )
