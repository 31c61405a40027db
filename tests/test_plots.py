"""gl.plots under Agg: what each draws (bars, their order and error bars, dots, bands), read back
from the Axes."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt

import gradlime as gl
from gradlime.plots import Z95

W = np.array([1.5, -2.0, 0.5, 0.1])
NAMES = ("age", "income", "score", "noise")


def model():
    return gl.Model(lambda A: A @ W, grad=lambda A: np.broadcast_to(W, A.shape).copy())


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_one_point_as_sorted_named_bars_with_95_percent_error_bars():
    E = gl.clime(lambda A: np.tanh(A @ W), np.ones((3, 4)), n_samples=200, feature_names=NAMES)
    ax = E.plot(1)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    order = np.argsort(-np.abs(E.values[1]), kind="stable")[::-1]  # largest on top
    assert labels == [NAMES[k] for k in order]
    np.testing.assert_allclose(widths, E.values[1][order])
    from matplotlib.container import ErrorbarContainer

    bars = next(c for c in ax.containers if isinstance(c, ErrorbarContainer))
    segments = bars.lines[2][0].get_segments()
    half = [(s[1][0] - s[0][0]) / 2 for s in segments]
    np.testing.assert_allclose(half, Z95 * E.stderr[1][order], rtol=1e-12)
    assert "clime" in ax.get_title(loc="left")


def test_a_single_point_needs_no_index_and_several_need_one():
    E = gl.gradient(model(), np.ones(4))
    assert len(E.plot().patches) == 4
    assert len(gl.plots.attributions(E, max_features=2).patches) == 2
    many = gl.gradient(model(), np.ones((2, 4)))
    with pytest.raises(ValueError, match="has 2 points: say which"):
        gl.plots.attributions(many)


def test_the_summary_has_a_dot_per_point_and_feature():
    X = np.random.default_rng(0).normal(size=(7, 4))
    E = gl.gradient(model(), X, feature_names=NAMES)
    ax = E.plot()
    dots = [c for c in ax.collections if c.get_offsets().shape[0] == 7]
    assert len(dots) == 4
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "income"  # the largest mean |attribution| on top


def test_convergence_shows_each_method_and_its_band():
    ax = gl.plots.convergence(
        model(), np.ones(4), n_samples=(50, 200, 800), feature="x1", sigma=0.5
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["smoothgrad", "clime", "stein"]
    for line in ax.get_lines():
        assert len(line.get_xdata()) == 3
    # a linear model: every estimator's estimate of feature 1 is W[1] (SmoothGrad exactly)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), W[1], rtol=1e-12)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), W[1], rtol=1e-9)
    assert ax.get_xscale() == "log"


def test_convergence_with_a_method_outside_the_engine():
    ax = gl.plots.convergence(model(), np.ones(4), methods=("clime", "lime"), n_samples=(64, 128))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["clime", "lime"]
