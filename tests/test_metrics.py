"""gl.faithfulness against the definition (paper 2, Definition 3.4 and eq. (5))."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import Recorder, linear_model, sine_model


def cubic(A):
    return np.sin(A[:, 0]) * A[:, 1] + A[:, 2] ** 3 - 0.5 * A[:, 3] * A[:, 0]


def direct(f, x, phi, r, similarity):
    """Definition 3.4, one feature at a time; features with x_i == r_i left out."""
    p, keep = [], []
    for i in range(len(x)):
        if x[i] == r[i]:
            continue
        xbar = x.copy()
        xbar[i] = r[i]
        p.append((f(x[None])[0] - f(xbar[None])[0]) / (x[i] - r[i]))
        keep.append(i)
    p, u = np.array(p), phi[keep]
    if similarity == "inverse_l2":
        return 1.0 / np.sqrt(sum((u[k] - p[k]) ** 2 for k in range(len(p))))
    if similarity == "spearman":
        u, p = ranks(u), ranks(p)
    return np.corrcoef(u, p)[0, 1]


def ranks(v):
    out = np.empty(len(v))
    for i in range(len(v)):
        out[i] = 1 + np.sum(v < v[i]) + 0.5 * (np.sum(v == v[i]) - 1)
    return out


@pytest.mark.parametrize("similarity", ["inverse_l2", "pearson", "spearman"])
def test_matches_the_definition(similarity, rng):
    X = rng.normal(size=(6, 4))
    r = np.array([0.1, -0.2, 0.0, 0.3])
    X[2, 1] = r[1]  # p_1 undefined at point 2: excluded
    X[4, 3] = r[3]
    phi = rng.normal(size=(6, 4))
    got = gl.faithfulness(cubic, X, phi, reference=r, similarity=similarity)
    want = [direct(cubic, X[i], phi[i], r, similarity) for i in range(len(X))]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_spearman_handles_ties_like_scipy():
    stats = pytest.importorskip("scipy.stats")
    w = np.array([1.0, 1.0, 2.0, -1.0, 2.0, 0.5])
    x = np.array([1.0, 2.0, -1.0, 3.0, 1.0, 2.0])  # small integers: the secants are w exactly
    phi = np.array([3.0, 1.0, 1.0, 0.0, 2.0, 2.0])
    got = gl.faithfulness(lambda A: A @ w, x, phi, similarity="spearman")
    assert got == pytest.approx(stats.spearmanr(phi, w).statistic, rel=1e-12)


def test_linear_model_p_is_w_so_w_is_most_faithful(rng):
    w = np.array([2.0, -1.0, 0.5, 3.0])
    model = linear_model(w, b=0.7)
    X = rng.normal(size=(5, 4))
    phi = np.tile(w, (5, 1))
    for similarity in ("pearson", "spearman"):
        np.testing.assert_allclose(gl.faithfulness(model, X, phi, similarity=similarity), 1.0)
    # inverse_l2 is exactly 1 / ||phi - w||, inf at phi = w up to rounding of the secants
    near = gl.faithfulness(model, X, phi + np.array([0.0, 0.0, 0.0, 0.25]))
    np.testing.assert_allclose(near, 4.0, rtol=1e-9)
    assert np.all(gl.faithfulness(model, X, phi) > 1e12)


def test_at_reference_exclude_and_gradient():
    w = np.array([1.0, -2.0, 0.5])
    x = np.array([0.0, 1.0, 2.0])  # x_0 == r_0 = 0: p_0 is 0/0
    phi = np.array([5.0, -2.5, 1.0])
    got = gl.faithfulness(linear_model(w), x, phi)
    assert got == pytest.approx(1.0 / np.linalg.norm(phi[1:] - w[1:]))
    # the limit r_0 -> x_0 of the secant is df/dx_0 = w_0
    got = gl.faithfulness(linear_model(w), x, phi, at_reference="gradient")
    assert got == pytest.approx(1.0 / np.linalg.norm(phi - w))
    # every feature at its reference: nothing to compare
    assert np.isnan(gl.faithfulness(linear_model(w), np.zeros(3), phi))
    # one feature left: a correlation is undefined
    assert np.isnan(gl.faithfulness(linear_model(w), [0.0, 0.0, 1.0], phi, similarity="pearson"))


def test_takes_explanations_and_batches_rows(rng):
    rec = Recorder(cubic)
    model = gl.Model(rec, batch_size=7)
    X = rng.normal(size=(5, 4))
    E = gl.clime(cubic, X, n_samples=200)
    got = gl.faithfulness(model, X, E, similarity="pearson")
    assert got.shape == (5,)
    assert max(len(b) for b in rec.batches) <= 7
    assert len(rec.rows) == 5 * (4 + 1)
    np.testing.assert_allclose(got, gl.faithfulness(cubic, X, E.values, similarity="pearson"))
    assert isinstance(gl.faithfulness(cubic, X[0], E.values[0]), float)


def test_bad_arguments():
    f, x = cubic, np.ones(4)
    with pytest.raises(ValueError, match="similarity"):
        gl.faithfulness(f, x, x, similarity="cosine")
    with pytest.raises(ValueError, match="shape of X"):
        gl.faithfulness(f, x, np.ones(3))
    with pytest.raises(ValueError, match="gradient"):
        gl.faithfulness(f, x, x, at_reference="gradient")
    with pytest.raises(ValueError, match="at_reference"):
        gl.faithfulness(f, x, x, at_reference="zero")
    with pytest.raises(ValueError, match="NaN"):
        gl.faithfulness(lambda A: np.full(len(A), np.nan), x, x)


# Paper 2, eq. (2): the toy function of Section 5.2 and its a.e. gradient, eq. (3).
DELTA = 1.0


def toy(A):
    k = np.floor(np.abs(A[:, 0] - A[:, 1]) / DELTA)
    return np.where(k % 2 == 0, A[:, 0] - (k / 2) * DELTA, A[:, 1] + ((k + 1) / 2) * DELTA)


def toy_grad(A):
    odd = np.floor(np.abs(A[:, 0] - A[:, 1]) / DELTA) % 2 == 1
    return np.stack([~odd, odd], axis=1).astype(float)


def test_toy_smoothgrad_goes_from_gradient_to_one_half():
    """Paper 2, Fig. 2(b): at x = (Delta, -1.5 Delta), SmoothGrad is (1, 0) for tiny sigma and
    tends to (0.5, 0.5) as sigma grows."""
    model = gl.Model(toy, grad=toy_grad)
    x = np.array([DELTA, -1.5 * DELTA])
    small = gl.smoothgrad(model, x, sigma=0.01 * DELTA, n_samples=2000)
    np.testing.assert_array_equal(small.values, [1.0, 0.0])
    large = gl.smoothgrad(model, x, sigma=20 * DELTA, n_samples=20000)
    np.testing.assert_allclose(large.values, [0.5, 0.5], atol=0.03)


def test_toy_faithfulness_with_the_papers_choices():
    """With reference 0 (paper 2, App. B.4) and eq. (5), p(x) = (1/2, 2/3) at x = (Delta,
    -1.5 Delta). SmoothGrad's faithfulness rises from sigma ~ 0 to a local peak near
    sigma ~ 0.7 Delta and falls again, but it is not the global maximum: as sigma -> inf it tends
    to 1 / ||(0.5, 0.5) - p|| = 6. The toy f is unbounded, so Theorem 5.2 does not apply."""
    model = gl.Model(toy, grad=toy_grad)
    x = np.array([DELTA, -1.5 * DELTA])
    assert gl.faithfulness(toy, x, [0.5, 2.0 / 3.0]) == np.inf  # p(x) itself
    sigmas = np.array([0.05, 0.7, 1.5, 50.0]) * DELTA
    F = [
        gl.faithfulness(toy, x, gl.smoothgrad(model, x, sigma=s, n_samples=20000, seed=3))
        for s in sigmas
    ]
    assert F[0] == pytest.approx(1.2)  # phi = (1, 0)
    assert F[1] > F[0]
    assert F[1] > F[2]
    assert F[3] > F[1]  # ... below the sigma -> inf limit


def test_smoothgrad_faithfulness_peaks_at_the_predicted_interior_sigma():
    """Paper 2, Thm 5.2 for a bounded f = sin(a.x): SmoothGrad is c(sigma) grad f(x) with
    c = exp(-sigma^2 |a|^2 / 2) going from 1 to 0, so 1 / ||phi_sigma - p|| peaks where
    c = <grad f, p> / |grad f|^2, interior when that is in (0, 1)."""
    a = np.array([1.0, 0.5])
    x = np.array([-2.5, -1.5])
    model = sine_model(a)
    g = a * np.cos(a @ x)
    p = np.array([(np.sin(a @ x) - np.sin(a[1] * x[1])) / x[0],
                  (np.sin(a @ x) - np.sin(a[0] * x[0])) / x[1]])  # fmt: skip
    c = g @ p / (g @ g)
    assert 0.0 < c < 1.0
    sigma_star = np.sqrt(-2.0 * np.log(c)) / np.linalg.norm(a)
    sigmas = np.geomspace(0.05, 5.0, 21)
    F = np.array(
        [
            gl.faithfulness(model, x, gl.smoothgrad(model, x, sigma=s, n_samples=4000, seed=1))
            for s in sigmas
        ]
    )
    best = int(np.argmax(F))
    assert 0 < best < len(sigmas) - 1
    assert sigmas[best - 1] <= sigma_star <= sigmas[best + 1]
