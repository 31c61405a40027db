"""The experiments' outputs: CSV tables, and figures as panels of curves in PNGs (matplotlib,
headless)."""

from __future__ import annotations

import csv
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

Curve = Sequence[tuple[float, float]]


def write_csv(
    path: pathlib.Path, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> pathlib.Path:
    """A CSV of `rows` under a header row; returns its path."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def panels(
    path: pathlib.Path,
    figures: Sequence[tuple[str, Mapping[str, Curve]]],
    xlabel: str,
    ylabel: str,
    log_x: bool = True,
) -> pathlib.Path:
    """One panel per (title, {label: [(x, y), ...]}), side by side, written to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(figures), figsize=(4.6 * len(figures), 3.6), squeeze=False)
    for ax, (title, curves) in zip(axes[0], figures, strict=True):
        for label, points in curves.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        if log_x:
            ax.set_xscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def marked_curves(
    path: pathlib.Path,
    curves: Mapping[str, Sequence[tuple[float, float, str]]],
    title: str,
    xlabel: str,
    ylabel: str,
) -> pathlib.Path:
    """One panel of curves {label: [(x, y, kind), ...]}, each point marked by its kind (one
    marker a kind, a legend of the labels' colours and one of the kinds' markers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    kinds = list(dict.fromkeys(k for points in curves.values() for _, _, k in points))
    marker = dict(zip(kinds, "osD^vP*Xph", strict=False))
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    for i, (label, points) in enumerate(curves.items()):
        colour = f"C{i % 10}"
        xs, ys, ks = zip(*points, strict=True)
        ax.plot(xs, ys, color=colour, lw=1.2, label=label)
        for x, y, k in zip(xs, ys, ks, strict=True):
            ax.plot(x, y, marker=marker[k], color=colour, ms=6, ls="none")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    first = ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model")
    ax.add_artist(first)
    proxies = [Line2D([], [], color="0.3", marker=marker[k], ls="none") for k in kinds]
    ax.legend(
        proxies, kinds, fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0), title="method"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
