"""Stein with a cross-fitted linear control variate: exactly unbiased on closed forms over many
seeds under every scheme, standard errors calibrated, exact for a linear model, much less error
than plain Stein, the same bits over batch sizes, and explain's Stein equal to gl.stein's."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from closed_forms import SIGMA, X0, sine_truth
from closed_forms import sine as _sine


def sine():
    return _sine(gradient=False)


@pytest.mark.parametrize("scheme", [{}, {"antithetic": True}, {"qmc": 16}])
def test_unbiased_and_calibrated_over_seeds(scheme):
    truth = sine_truth(X0, SIGMA)
    runs = [
        gl.stein(sine(), X0, sigma=SIGMA, n_samples=64, control_variate=True, seed=s, **scheme)
        for s in range(300)
    ]
    est, se = np.array([r.values for r in runs]), np.array([r.stderr for r in runs])
    spread = est.std(axis=0, ddof=1)
    assert np.all(np.abs(est.mean(axis=0) - truth) < 4 * spread / np.sqrt(len(runs)))
    np.testing.assert_allclose(np.sqrt(np.mean(se**2, axis=0)), spread, rtol=0.25)


def test_a_linear_model_is_exact():
    w = np.array([1.0, -2.0, 0.5])
    E = gl.stein(lambda A: (A * w).sum(axis=1) + 3.0, X0, n_samples=64, control_variate=True)
    np.testing.assert_allclose(E.values, w, rtol=1e-10)
    assert E.params["control_variate"] is True


def test_much_less_error_than_plain_stein_where_f_is_nearly_linear():
    """sin over a neighbourhood of |a| sigma = 0.7 radians: the linear control takes out most of
    Stein's spread (where f curves over the neighbourhood, e.g. sigma = 0.7 here, it may not)."""
    truth = sine_truth(X0, 0.3)
    err = {}
    for cv in (False, True):
        runs = [
            gl.stein(sine(), X0, sigma=0.3, n_samples=512, control_variate=cv, seed=s)
            for s in range(40)
        ]
        err[cv] = np.mean([(r.values - truth) ** 2 for r in runs])
    assert err[True] < 0.35 * err[False]


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_the_same_bits_for_every_batch_size_and_from_explain(batch_size):
    X = np.stack([X0, -X0])
    for kw in ({}, {"qmc": 4}, {"antithetic": True}):
        ref = gl.stein(sine(), X, n_samples=160, control_variate=True, seed=5, **kw)
        m = gl.Model(sine().f, batch_size=batch_size)
        got = gl.explain(
            m, X, ("stein", "clime"), n_samples=160, control_variate=True, seed=5, **kw
        )["stein"]
        assert got.values.tobytes() == ref.values.tobytes()
        assert got.stderr.tobytes() == ref.stderr.tobytes()


def test_arguments():
    with pytest.raises(ValueError, match="control variate fits d slopes"):
        gl.stein(sine(), X0, n_samples=4, control_variate=True)
    with pytest.raises(TypeError, match="control_variate must be True or False"):
        gl.stein(sine(), X0, control_variate="yes")
    E = gl.stein(sine(), X0, n_samples=64, control_variate=True, tol=0.05, max_samples=4096)
    assert E.stderr.max() <= 0.05 or E.samples_per_point == 4096


def test_lipschitz_passes_the_scheme_through():
    """lipschitz explains x and its neighbours with the method's own keywords: the control
    variate (and qmc) reach the engine, where they were once dropped."""
    X = np.zeros((2, 3))
    kw = {"n_samples": 64, "n_neighbors": 3, "seed": 1}
    plain = gl.lipschitz(sine(), X, "stein", **kw).values
    cv = gl.lipschitz(sine(), X, "stein", control_variate=True, **kw).values
    qmc = gl.lipschitz(sine(), X, "stein", qmc=True, **kw).values
    assert not np.array_equal(plain, cv)
    assert not np.array_equal(plain, qmc)
