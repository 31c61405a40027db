"""LIME with binary masks (paper 2, section 3.2) against answers known independently."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import gradlime as gl
from conftest import Recorder, elementwise_model, onnx_net, printed_by_thread_count, stops_on_ctrl_c


def _nonlinear(A):
    return np.tanh(A @ np.array([0.8, -0.5, 0.3, 1.1, -0.7])) + 0.4 * A[:, 0] * A[:, 1]


def _weighted_ridge(Z, y, w, ridge):
    """argmin sum w (y - b - Z c)^2 + ridge |c|^2 by the normal equations of [1, Z]."""
    D = np.hstack([np.ones((len(Z), 1)), Z])
    P = np.diag([0.0] + [ridge] * Z.shape[1])
    beta = np.linalg.solve(D.T @ (w[:, None] * D) + P, D.T @ (w * y))
    return beta[0], beta[1:]


def _hc1(Z, y, w, ridge, b, c):
    n, d = Z.shape
    zbar = w @ Z / w.sum()
    Zc = Z - zbar
    A = Zc.T @ (w[:, None] * Zc) + ridge * np.eye(d)
    r = y - b - Z @ c
    U = Zc * (w * r)[:, None]
    Ainv = np.linalg.inv(A)
    return np.sqrt(np.diag(Ainv @ (U.T @ U) @ Ainv) * n / (n - d - 1))


def test_linear_model_with_no_ridge_gives_w_times_x(rng):
    # f(x~) = b + sum_k w_k (baseline_k + z_k (x_k - baseline_k)) is linear in z.
    d = 6
    w, b = rng.normal(size=d), 0.7
    X = rng.normal(size=(5, d))
    E = gl.lime(lambda A: A @ w + b, X, ridge=0.0, n_samples=300)
    np.testing.assert_allclose(E.values, w * X, rtol=0, atol=1e-10)
    assert E.stderr.max() < 1e-10
    base = rng.normal(size=d)
    E = gl.lime(lambda A: A @ w + b, X, ridge=0.0, baseline=base, n_samples=300)
    np.testing.assert_allclose(E.values, w * (X - base), rtol=0, atol=1e-10)
    assert E.method == "lime"
    assert E.shape == (5, d)


def test_equals_brute_force_weighted_ridge_on_the_rows_the_model_saw(rng):
    N, d, n, ridge, width = 3, 5, 300, 0.7, 1.3
    X = rng.normal(size=(N, d))
    base = np.linspace(-0.3, 0.4, d)  # differs from every x_k, so z can be read off the rows
    rec = Recorder(_nonlinear)
    model = gl.Model(rec, batch_size=128)  # batches straddle points
    E = gl.lime(model, X, n_samples=n, baseline=base, kernel_width=width, ridge=ridge, seed=11)
    rows = rec.perturbations(X)
    assert rows.shape == (N * n, d)
    for p in range(N):
        A = rows[p * n : (p + 1) * n]
        Z = (A == X[p]).astype(float)
        assert np.all((A == X[p]) | (A == base))
        np.testing.assert_array_equal(Z, gl._core._testing.lime_masks(11, p, 0, n, d))
        y = _nonlinear(A)
        wts = np.exp(-np.linalg.norm(X[p] - A, axis=1) / width**2)  # not squared (paper 2)
        b, c = _weighted_ridge(Z, y, wts, ridge)
        np.testing.assert_allclose(E.values[p], c, rtol=0, atol=1e-10)
        np.testing.assert_allclose(E.stderr[p], _hc1(Z, y, wts, ridge, b, c), rtol=1e-8)


def test_ridge_penalty_scales_as_sklearn_ridge_with_sample_weight(rng):
    linear_model = pytest.importorskip("sklearn.linear_model")
    d, n = 4, 200
    Z = rng.integers(0, 2, size=(n, d)).astype(float)
    y, w = rng.normal(size=n), rng.uniform(0.1, 1.0, size=n)
    fit = linear_model.Ridge(alpha=2.5).fit(Z, y, sample_weight=w)
    b, c = _weighted_ridge(Z, y, w, 2.5)
    np.testing.assert_allclose(c, fit.coef_, atol=1e-10)
    np.testing.assert_allclose(b, fit.intercept_, atol=1e-10)


def test_default_kernel_width_and_params():
    E = gl.lime(lambda A: A.sum(axis=1), np.ones(9), n_samples=50)
    assert E.params["kernel_width"] == 0.75 * 3.0
    assert E.params["ridge"] == 1.0
    assert E.params["baseline"] == 0.0
    assert E.params["seed"] == 0
    assert E.values.shape == (9,)


def test_masks_keep_each_feature_half_the_time_independently():
    m, d = 20000, 200  # d > 128: two Philox blocks per mask
    Z = gl._core._testing.lime_masks(3, 0, 0, m, d)
    assert set(np.unique(Z)) == {0.0, 1.0}
    freq = Z.mean(axis=0)
    assert np.abs(freq - 0.5).max() <= 5 * np.sqrt(0.25 / m)
    pair = (Z.T @ Z) / m
    off = pair[~np.eye(d, dtype=bool)]
    assert np.abs(off - 0.25).max() <= 5.5 * np.sqrt(0.1875 / m)
    # points are independent streams, and the draws do not depend on the first sample asked for
    Z1 = gl._core._testing.lime_masks(3, 1, 0, m, d)
    assert abs((Z * Z1).mean() - 0.25) <= 5 * np.sqrt(0.1875 / (m * d))
    np.testing.assert_array_equal(gl._core._testing.lime_masks(3, 0, 17, 5, d), Z[17:22])


def test_stderr_matches_the_spread_over_independent_points():
    # Identical points use independent streams: the spread of their estimates is the true error.
    x = np.array([0.5, -1.0, 0.8, 0.3, -0.6])
    E = gl.lime(_nonlinear, np.tile(x, (300, 1)), n_samples=400, baseline=0.2, ridge=0.5)
    ratio = E.values.std(axis=0, ddof=1) / E.stderr.mean(axis=0)
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio


def test_batch_size_does_not_change_a_bit(rng):
    X = rng.normal(size=(5, 4))
    m = elementwise_model()
    ref = gl.lime(m.f, X, n_samples=500, seed=4)
    for batch in (1, 7, 499, 501, 4096):
        E = gl.lime(gl.Model(m.f, batch_size=batch), X, n_samples=500, seed=4)
        assert E.values.tobytes() == ref.values.tobytes()
        assert E.stderr.tobytes() == ref.stderr.tobytes()


def test_chunked_finalisation_matches_brute_force(rng):
    # More samples than one finalisation chunk (2048): the chunk merges must give the same fit.
    d, n = 5, 5000
    x = rng.normal(size=d)
    rec = Recorder(_nonlinear)
    E = gl.lime(rec, x, n_samples=n, baseline=-2.0, ridge=0.3)
    A = rec.perturbations(x)
    Z = (A == x).astype(float)
    wts = np.exp(-np.linalg.norm(x - A, axis=1) / (0.75 * np.sqrt(d)) ** 2)
    _, c = _weighted_ridge(Z, _nonlinear(A), wts, 0.3)
    np.testing.assert_allclose(E.values, c, rtol=0, atol=1e-10)


SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, gradlime as gl
    f = lambda A: np.sin(A[:, 0]) * np.cos(A[:, 1]) + A[:, 2] ** 2
    X = np.random.default_rng(0).normal(size=(40, 3))
    E = gl.lime(gl.Model(f, batch_size=1000), X, n_samples=5000, seed=7, baseline=0.1)
    h = hashlib.sha256(E.values.tobytes() + E.stderr.tobytes())
    print(gl._core.max_threads(), h.hexdigest())
""")


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_thread_count_does_not_change_a_bit():
    out = printed_by_thread_count(SCRIPT)
    assert out["1"] == out["2"]


def _onnx_linear_then(rng, d, activation):
    W = rng.normal(size=(d, 1)).astype(np.float32)
    return onnx_net(W, b=[0.25], activations=[activation]), W[:, 0].astype(np.float64)


def test_native_onnx_model(rng):
    d = 6
    data, w = _onnx_linear_then(rng, d, "Identity")
    native = gl.Model.from_onnx(data)
    assert native.engine == "native"
    X = rng.normal(size=(4, d))
    E = gl.lime(native, X, ridge=0.0, n_samples=400)
    np.testing.assert_allclose(E.values, w * X, atol=1e-5)  # float32 network

    data, _ = _onnx_linear_then(rng, d, "Tanh")
    native = gl.Model.from_onnx(data)
    a = gl.lime(native, X, n_samples=400, seed=2)
    b = gl.lime(gl.Model(native.f), X, n_samples=400, seed=2)  # the same network, through Python
    assert a.values.tobytes() == b.values.tobytes()
    assert a.stderr.tobytes() == b.stderr.tobytes()


@pytest.mark.parametrize("n_samples", [20, 63, 64, 65, 300])
@pytest.mark.parametrize("kept_mask_bytes", [0, 1 << 20])
@pytest.mark.parametrize("d", [7, 40, 70, 130])  # mask words 0; 0-1; 0-2; two Philox blocks
def test_fused_native_path_has_the_batched_bits(rng, n_samples, kept_mask_bytes, d):
    data, _ = _onnx_linear_then(rng, d, "Sigmoid")
    native = gl.Model.from_onnx(data)
    X, base = rng.normal(size=(5, d)), rng.normal(size=d)
    kw = {
        "network": native._network,
        "n_samples": n_samples,
        "kernel_width": 2.0,
        "seed": 3,
        "kept_mask_bytes": kept_mask_bytes,
    }
    fused = gl._core.lime(X, base, None, None, **kw)
    batched = gl._core.lime(X, base, None, None, fused_network=False, batch_rows=50, **kw)
    for a, b in zip(fused, batched, strict=True):
        assert a.tobytes() == b.tobytes()


def test_fused_native_path_names_the_first_non_finite_value(rng):
    data, _ = _onnx_linear_then(rng, 3, "Identity")
    native = gl.Model.from_onnx(data)
    X = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [3e38, 3e38, 3e38], [3e38, 3e38, 3e38]])
    messages = []
    for fused in (True, False):  # x w overflows float32 where enough of x is kept
        with pytest.raises(
            ValueError, match=r"non-finite value at point 2 \(perturbation sample"
        ) as e:
            gl._core.lime(X, np.zeros(3), None, None, network=native._network, fused_network=fused)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_agrees_with_lime_package_weighted_least_squares(rng):
    # The fitting step alone: lime's LimeBase on the very masks, outputs and distances we used.
    lime_base = pytest.importorskip("lime.lime_base")
    linear_model = pytest.importorskip("sklearn.linear_model")
    d, n, ridge, width = 5, 400, 1.0, 1.1
    x = rng.normal(size=d)
    rec = Recorder(_nonlinear)
    E = gl.lime(rec, x, n_samples=n, ridge=ridge, kernel_width=width, baseline=0.5, seed=9)
    A = rec.perturbations(x)
    Z = (A == x).astype(float)
    dist = np.linalg.norm(x - A, axis=1)
    base = lime_base.LimeBase(lambda dd: np.exp(-dd / width**2))
    _, local_exp, _, _ = base.explain_instance_with_data(
        Z,
        _nonlinear(A)[:, None],
        dist,
        0,
        d,
        feature_selection="none",
        model_regressor=linear_model.Ridge(alpha=ridge),
    )
    theirs = np.zeros(d)
    for k, v in local_exp:
        theirs[k] = v
    np.testing.assert_allclose(E.values, theirs, rtol=0, atol=1e-9)


def test_agrees_with_lime_tabular_explainer_in_distribution(rng):
    # lime's tabular explainer draws binary masks when every feature is categorical: each feature
    # takes a training value with its frequency and the regression is on "equals the instance".
    # Training data {x, baseline} makes that Bernoulli(1/2) between x_k and baseline_k, our
    # sampling. With |x_k - baseline_k| = 1 the input distance equals lime's mask-space distance,
    # so lime's kernel can be set to ours. Then both estimate the same coefficients.
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    d, n, width = 5, 5000, 1.2
    base = rng.normal(size=d)
    x = base + np.where(rng.random(d) < 0.5, -1.0, 1.0)
    explainer = lime_tabular.LimeTabularExplainer(
        np.vstack([x, base]),
        mode="regression",
        categorical_features=list(range(d)),
        discretize_continuous=False,
        kernel_width=width,
        kernel=lambda dd, kernel_width: np.exp(-dd / kernel_width**2),
        feature_selection="none",
        random_state=0,
    )
    exp = explainer.explain_instance(x, _nonlinear, num_features=d, num_samples=n)
    theirs = np.zeros(d)
    for k, v in exp.local_exp[1]:  # regression: [1] holds the fit, [0] its negation
        theirs[k] = v
    E = gl.lime(_nonlinear, x, n_samples=n, baseline=base, kernel_width=width, ridge=1.0)
    assert np.all(np.abs(E.values - theirs) <= 5 * np.sqrt(2) * E.stderr + 1e-3), (E, theirs)
    big = np.abs(E.values) > 4 * E.stderr
    assert big.any()
    assert np.all(np.sign(E.values[big]) == np.sign(theirs[big]))


def test_ctrl_c_stops_a_native_call(tmp_path, rng):
    data, _ = _onnx_linear_then(rng, 5, "Tanh")
    path = tmp_path / "net.onnx"
    path.write_bytes(data)
    assert stops_on_ctrl_c(path, "gl.lime(m, np.ones((10**6, 5)), n_samples=10**4)")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"baseline": [0.0, 1.0]}, ValueError, r"baseline must be a scalar or have shape \(3,\)"),
        ({"baseline": [0.0, np.nan, 1.0]}, ValueError, "baseline contains NaN"),
        ({"baseline": "zero"}, TypeError, "baseline must be an array of numbers"),
        ({"ridge": -1.0}, ValueError, "ridge must be finite and >= 0"),
        ({"ridge": "a lot"}, TypeError, "ridge must be a number"),
        ({"kernel_width": 0.0}, ValueError, "kernel_width must be finite and > 0"),
        ({"kernel_width": -2.0}, ValueError, "kernel_width must be finite and > 0"),
        ({"kernel_width": np.inf}, ValueError, "kernel_width must be finite and > 0"),
        ({"n_samples": 1}, ValueError, "n_samples must be >= 2"),
        ({"n_samples": 10.5}, TypeError, "n_samples must be an integer"),
        ({"seed": -1}, ValueError, "seed must be in"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        gl.lime(lambda A: A.sum(axis=1), np.ones((2, 3)), **kwargs)


def test_bad_inputs_and_models():
    f = lambda A: A.sum(axis=1)
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at point 1, feature 0\)"):
        gl.lime(f, [[0.0, 1.0], [np.inf, 0.0]])
    with pytest.raises(ValueError, match="non-finite value at point 1"):
        gl.lime(lambda A: np.where(A[:, 0] > 1.5, np.nan, 0.0), [[1.0, 1.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="returned shape"):
        gl.lime(lambda A: A, np.ones((2, 3)))
    with pytest.raises(TypeError, match="model must be"):
        gl.lime(42, np.ones(3))

    def boom(A):
        raise RuntimeError("inside the model")

    with pytest.raises(RuntimeError, match="inside the model"):
        gl.lime(boom, np.ones(3))
    with pytest.raises(ValueError, match="singular at point 0; use more samples or ridge > 0"):
        gl.lime(f, np.ones(8), n_samples=4, ridge=0.0)
    with pytest.raises(ValueError, match="every kernel weight underflows to 0 at point 0"):
        gl.lime(f, np.full(40, 1e4), n_samples=8, kernel_width=0.1)


def test_few_samples_give_values_but_no_stderr():
    E = gl.lime(lambda A: A.sum(axis=1), np.ones(8), n_samples=5, ridge=1.0)
    assert np.isfinite(E.values).all()
    assert np.isnan(E.stderr).all()


def test_points_are_independent_streams_and_seed_repeats():
    f = elementwise_model().f
    X = np.ones((3, 4))
    a = gl.lime(f, X, n_samples=100, seed=1)
    assert len({row.tobytes() for row in a.values}) == 3
    assert gl.lime(f, X, n_samples=100, seed=1).values.tobytes() == a.values.tobytes()
    assert gl.lime(f, X, n_samples=100, seed=2).values.tobytes() != a.values.tobytes()


def test_kept_and_redrawn_masks_give_the_same_bits(rng):
    # The fit looks at each point's masks twice: kept from the batch when small, drawn again
    # otherwise. The two paths must agree to the bit.
    X = rng.normal(size=(3, 5))
    common = {"n_samples": 3000, "kernel_width": 1.0, "ridge": 0.5, "seed": 3, "batch_rows": 777}
    base = np.zeros(5)
    kept = gl._core.lime(X, base, _nonlinear, None, kept_mask_bytes=1 << 30, **common)
    redrawn = gl._core.lime(X, base, _nonlinear, None, kept_mask_bytes=0, **common)
    for a, b in zip(kept, redrawn, strict=True):
        assert a.tobytes() == b.tobytes()
