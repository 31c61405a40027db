"""The one-pass engine call: shared and common draws, estimators chosen by name."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import Recorder, elementwise_model
from gradlime._engine import ESTIMATORS, one_pass


def test_common_draws_give_every_point_the_same_perturbations():
    rec = Recorder(lambda A: A[:, 0])
    X = np.array([[0.0, 0.0], [10.0, -5.0], [1.0, 2.0]])
    E = one_pass(rec, X, ("stein",), scale=0.5, n_samples=40, seed=3, common_draws=True)
    eps = rec.rows.reshape(3, 40, 2) - X[:, None, :]
    np.testing.assert_allclose(eps[1], eps[0], atol=1e-13)
    np.testing.assert_allclose(eps[2], eps[0], atol=1e-13)
    # The same draws as explaining the point alone with that seed (stream 0).
    alone = gl.stein(lambda A: A[:, 0], X[1], sigma=0.5, n_samples=40, seed=3)
    np.testing.assert_array_equal(E["stein"].values[1], alone.values)


def test_uniform_kernel_is_unigrad(rng):
    model = elementwise_model()
    X = rng.normal(size=(3, 4))
    E = one_pass(
        model,
        X,
        ("smoothgrad",),
        kernel="uniform",
        scale=0.3,
        n_samples=64,
        seed=2,
        scale_name="radius",
    )["smoothgrad"]
    U = gl.unigrad(model, X, radius=0.3, n_samples=64, seed=2)
    np.testing.assert_array_equal(E.values, U.values)
    assert E.params["radius"] == 0.3
    assert U.method == "unigrad"


@pytest.mark.parametrize("estimators", [(), ("lime",), ("smoothgrad", "unigrad")])
def test_unknown_estimators(estimators):
    with pytest.raises(ValueError, match="estimators must be a non-empty subset"):
        one_pass(lambda A: A[:, 0], np.zeros(2), estimators, scale=1.0, n_samples=10, seed=0)


def test_estimators_are_the_engine_three():
    assert ESTIMATORS == ("smoothgrad", "clime", "stein")
