"""progress=: a bar when asked (or on a terminal for long calls), nothing otherwise, and a
callable fed by the driver's (finished, total) reports."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from gradlime.registry import REGISTRY

f = lambda A: np.tanh(A).sum(axis=1)
X = np.zeros((5, 3))


@pytest.mark.parametrize("name", ["clime", "lime", "kernel_shap"])
def test_a_callable_sees_every_point_finish(name):
    reports = []
    REGISTRY[name].function(
        f, X, n_samples=64, progress=lambda done, total: reports.append((done, total))
    )
    assert reports, "no report"
    assert reports[-1] == (5, 5)
    assert all(t == 5 for _, t in reports)
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_explain_reports_one_pass():
    reports = []
    gl.explain(f, X, ("clime", "stein"), n_samples=64, progress=lambda d, t: reports.append(d))
    assert reports[-1] == 5


def test_a_bar_when_asked_and_nothing_otherwise(capsys):
    pytest.importorskip("tqdm")
    gl.clime(f, X, n_samples=64, progress=True)
    err = capsys.readouterr().err
    assert "clime" in err
    assert "5/5" in err
    gl.clime(f, X, n_samples=64)  # stderr is not a terminal here: quiet
    gl.clime(f, X, n_samples=64, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_takes_only_what_it_understands():
    with pytest.raises(TypeError, match="progress must be None, True, False or a callable"):
        gl.clime(f, X, n_samples=64, progress="yes")


def test_lipschitz_with_lime_is_one_bar_over_every_call(capsys):
    """lipschitz explains x and each neighbour column by separate lime calls: one bar adds up
    their points (3 points x (1 + 4 neighbours))."""
    pytest.importorskip("tqdm")
    gl.lipschitz(f, X[:3], "lime", n_neighbors=4, n_samples=32, progress=True)
    err = capsys.readouterr().err
    assert "lipschitz" in err
    assert "15/15" in err
    assert err.count("lipschitz") >= 1


def test_lipschitz_and_tradeoff_report_to_a_callable():
    seen = []
    gl.lipschitz(
        f, X[:2], "clime", n_neighbors=3, n_samples=32, progress=lambda d, t: seen.append(t)
    )
    assert seen[-1] == 2 * 4  # one engine pass over points and neighbours
    seen.clear()
    gl.tradeoff(
        f,
        X[:2],
        "clime",
        sigmas=[0.5, 1.0],
        n_neighbors=3,
        n_samples=32,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen.count((8, 8)) == 2  # one finished pass per sigma


def test_a_call_inside_lipschitz_does_not_start_its_own_bar():
    """The methods lipschitz calls are the registry's cores: no f(x) of their own either."""
    from conftest import Recorder

    rec = Recorder(f)
    gl.lipschitz(
        gl.Model(rec, grad=lambda A: 1 - np.tanh(A) ** 2), X[:2], "gradient", n_neighbors=3
    )
    assert sum(len(b) for b in rec.batches) == 0  # the gradient method never calls f
