"""Reported standard errors match the observed spread of the estimates over independent draws."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl

REPLICATES = 600  # identical points draw independent streams: 600 independent estimates in one call


def _model():
    w = np.array([1.5, -1.0, 0.5])

    def f(A):
        return np.tanh(A @ w) + 0.5 * np.sin(2 * A[:, 1]) * A[:, 2]

    def grad(A):
        t = 1 - np.tanh(A @ w) ** 2
        return np.stack(
            [1.5 * t, -t + np.cos(2 * A[:, 1]) * A[:, 2], 0.5 * t + 0.5 * np.sin(2 * A[:, 1])], 1
        )

    return gl.Model(f, grad=grad)


@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein"])
def test_stderr_is_calibrated(method):
    x = np.array([0.3, -0.2, 0.8])
    E = gl.explain(
        _model(), np.tile(x, (REPLICATES, 1)), methods=(method,), sigma=0.7, n_samples=400, seed=12
    )[method]
    observed = E.values.std(axis=0, ddof=1)
    reported = np.sqrt((E.stderr**2).mean(axis=0))
    # The sd of a sd from 600 replicates is ~3%; 15% is about five of those.
    np.testing.assert_allclose(reported / observed, 1.0, atol=0.15)
    # And the intervals cover: about 95% within 1.96 standard errors of the consensus.
    centre = E.values.mean(axis=0)
    coverage = (np.abs(E.values - centre) <= 1.96 * E.stderr).mean(axis=0)
    assert (coverage > 0.91).all()
    assert (coverage < 0.985).all()


def test_stderr_shrinks_like_one_over_sqrt_n():
    x = np.array([0.3, -0.2, 0.8])
    small = gl.stein(_model(), x, n_samples=1000, seed=1).stderr
    large = gl.stein(_model(), x, n_samples=16000, seed=1).stderr
    np.testing.assert_allclose(small / large, 4.0, rtol=0.15)
