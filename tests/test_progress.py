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
