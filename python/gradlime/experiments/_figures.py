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
