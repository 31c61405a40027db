"""gl.kernel_shap: KernelSHAP, exact and sampled.

Expected answers are computed here independently of gradlime: Shapley values by the subset
formula over every coalition (brute force), linear models by phi = w * (x - mean baseline).
"""

from __future__ import annotations

import itertools
import math
import textwrap

import numpy as np
import pytest

import gradlime as gl
from conftest import Recorder, onnx_net, printed_by_thread_count, stops_on_ctrl_c


def brute_force_shapley(f, x, background):
    """phi_i = sum_{S not containing i} |S|! (d - |S| - 1)! / d! (v(S + i) - v(S)),
    v(S) = mean_b f(x_S, b_{not S}), over all 2^d coalitions."""
    d = len(x)
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=bool)  # (2^d, d)
    rows = np.where(masks[:, None, :], x, background[None, :, :])  # (2^d, B, d)
    v = f(rows.reshape(-1, d)).reshape(len(masks), len(background)).mean(axis=1)
    index = {m.tobytes(): k for k, m in enumerate(masks)}
    phi = np.zeros(d)
    for k, m in enumerate(masks):
        s = int(m.sum())
        for i in np.flatnonzero(~m):
            with_i = m.copy()
            with_i[i] = True
            weight = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
            phi[i] += weight * (v[index[with_i.tobytes()]] - v[k])
    return phi


def nonlinear(A):
    """Products, sin and a ratio: interactions of every order among the first four features."""
    d = A.shape[1]
    w = np.linspace(-1.0, 1.5, d)
    return (
        np.sin(A @ w)
        + A[:, 0] * A[:, 1] * A[:, 2]
        + A[:, 3] ** 2 / (1.0 + A[:, 1] ** 2)
        + np.tanh(A[:, -1]) * A[:, 0]
    )


# ---------------------------------------------------------------------------- exact mode


@pytest.mark.parametrize("d", [4, 5, 8])
def test_exact_equals_brute_force_with_a_vector_baseline(rng, d):
    X = rng.normal(size=(3, d))
    base = rng.normal(size=d)
    E = gl.kernel_shap(nonlinear, X, baseline=base)
    assert E.params["exact"]
    assert E.n_samples == 2**d - 2
    for x, phi in zip(X, E.values, strict=True):
        np.testing.assert_allclose(
            phi, brute_force_shapley(nonlinear, x, base[None]), rtol=1e-10, atol=1e-10
        )
    assert np.all(E.stderr == 0.0)


@pytest.mark.parametrize("d", [4, 6])
def test_exact_equals_brute_force_with_a_background_matrix(rng, d):
    X = rng.normal(size=(2, d))
    background = rng.normal(size=(4, d))
    E = gl.kernel_shap(nonlinear, X, baseline=background)
    for x, phi in zip(X, E.values, strict=True):
        np.testing.assert_allclose(
            phi, brute_force_shapley(nonlinear, x, background), rtol=1e-10, atol=1e-10
        )
    np.testing.assert_allclose(E.base_values, nonlinear(background).mean(), rtol=1e-14)
    assert E.base_values.shape == (2,)
    np.testing.assert_allclose(E.fx, nonlinear(X), rtol=1e-14)
    np.testing.assert_array_equal(E.data, X)


def test_scalar_baseline_and_a_single_point():
    f = lambda A: A[:, 0] * A[:, 1] + 2.0 * A[:, 2]
    E = gl.kernel_shap(f, [1.0, 2.0, 3.0], baseline=0.5)
    assert E.values.shape == (3,)
    np.testing.assert_allclose(
        E.values, brute_force_shapley(f, np.array([1.0, 2.0, 3.0]), np.full((1, 3), 0.5))
    )


def test_two_features():
    f = lambda A: A[:, 0] * A[:, 1]
    E = gl.kernel_shap(f, [2.0, 3.0], baseline=[1.0, -1.0])
    np.testing.assert_allclose(
        E.values, brute_force_shapley(f, np.array([2.0, 3.0]), np.array([[1.0, -1.0]]))
    )


def test_one_feature_gets_the_whole_difference():
    E = gl.kernel_shap(lambda A: np.exp(A[:, 0]), [[1.0], [2.0]], baseline=[[0.0], [1.0]])
    np.testing.assert_allclose(E.values[:, 0], np.exp([1.0, 2.0]) - (1.0 + np.e) / 2)


# ---------------------------------------------------------------------------- linear models


# d = 12: None samples 2072, 64 samples 64. Not fewer: at 40 (20 pairs for 11 coefficients) about
# one point in five has a pair of leverage 1, whose stderr is rightly inf (measured over 200 seeds).
@pytest.mark.parametrize("n_samples", [None, 64])
@pytest.mark.parametrize("matrix", [False, True])
def test_linear_model_gives_w_times_x_minus_baseline(rng, n_samples, matrix):
    d = 12
    w = rng.normal(size=d)
    X = rng.normal(size=(4, d))
    base = rng.normal(size=(7, d)) if matrix else rng.normal(size=d)
    E = gl.kernel_shap(lambda A: A @ w + 3.0, X, baseline=base, n_samples=n_samples)
    assert not E.params["exact"]
    ref = base.mean(axis=0) if matrix else base
    np.testing.assert_allclose(E.values, w * (X - ref), rtol=1e-9, atol=1e-12)
    assert np.all(E.stderr < 1e-9)  # no residual: the fit is exact


def test_linear_model_exact_mode(rng):
    w = rng.normal(size=6)
    X, background = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    E = gl.kernel_shap(lambda A: A @ w, X, baseline=background)
    np.testing.assert_allclose(E.values, w * (X - background.mean(axis=0)), atol=1e-12)


# ---------------------------------------------------------------------------- sampled mode

D_SAMPLED = 12


@pytest.fixture(scope="module")
def sampled_problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2, D_SAMPLED))
    background = rng.normal(size=(3, D_SAMPLED))
    truth = np.array([brute_force_shapley(nonlinear, x, background) for x in X])
    return X, background, truth


def test_sampled_converges_to_the_shapley_values(sampled_problem):
    X, background, truth = sampled_problem
    rmse = []
    for n in (64, 256, 1024):
        errs = []
        for seed in range(4):
            E = gl.kernel_shap(nonlinear, X, baseline=background, n_samples=n, seed=seed)
            assert not E.params["exact"]
            assert E.n_samples == n
            if n >= 256:  # with fewer pairs the sandwich is too noisy for a hard bound
                assert np.all(np.abs(E.values - truth) <= 6 * E.stderr + 1e-12)
            errs.append(E.values - truth)
        rmse.append(float(np.sqrt(np.mean(np.square(errs)))))
    # Monte-Carlo error shrinks like 1/sqrt(n): 4x the coalitions, about half the error.
    assert rmse[1] < 0.7 * rmse[0]
    assert rmse[2] < 0.7 * rmse[1]


def test_efficiency_holds_exactly_when_sampled(sampled_problem):
    X, background, _ = sampled_problem
    d = X.shape[1]
    for n in (2 * (d // 2), 2 * (d // 2) + 1, 50, 301):  # the least a design takes: a pair per size
        E = gl.kernel_shap(nonlinear, X, baseline=background, n_samples=n, seed=5)
        gap = E.values.sum(axis=1) - (E.fx - E.base_values)
        assert np.all(np.abs(gap) <= 1e-12 * (1.0 + np.abs(E.values).sum(axis=1)))


@pytest.mark.parametrize(("estimator", "upper"), [("kernel", 1.33), ("regression", 1.6)])
def test_stderr_matches_the_spread_over_seeds(sampled_problem, estimator, upper):
    """Linear fit: calibrated. Cubic surrogate with about as many terms as pairs (here 232 terms
    and 128 pairs): the jackknife's residuals make it conservative, never optimistic."""
    X, background, _ = sampled_problem
    runs = [
        gl.kernel_shap(
            nonlinear, X, baseline=background, n_samples=256, estimator=estimator, seed=s
        )
        for s in range(60)
    ]
    assert runs[0].params["estimator"] == estimator
    spread = np.std([e.values for e in runs], axis=0, ddof=1)
    reported = np.mean([e.stderr for e in runs], axis=0)
    ratio = reported / spread
    assert 0.75 < float(np.median(ratio)) < upper
    assert np.all((ratio > 0.5) & (ratio < 2.0))


def test_the_regression_adjustment_is_exact_for_a_cubic_game(rng):
    """f with interactions of order <= 3 (masked into the game: v(S) = f(x_S, 0)): the cubic
    surrogate is the game itself, so its Shapley values are exact from any design, while the
    linear fit carries sampling error."""
    d = 9
    W3 = rng.normal(size=(d, d, d))
    f = lambda A: np.einsum("mi,mj,mk,ijk->m", A, A, A, W3) + A @ np.arange(d)
    x = rng.normal(size=d)
    exact = gl.kernel_shap(f, x, baseline=0.0, n_samples=None).values
    E = gl.kernel_shap(f, x, baseline=0.0, n_samples=200, seed=1)
    assert E.params["estimator"] == "regression"
    np.testing.assert_allclose(E.values, exact, rtol=1e-7, atol=1e-9 * np.abs(exact).max())
    lin = gl.kernel_shap(f, x, baseline=0.0, n_samples=200, estimator="kernel", seed=1)
    assert np.max(np.abs(lin.values - exact)) > 1e-3 * np.abs(exact).max()


def test_too_few_pairs_report_an_infinite_stderr(sampled_problem):
    X, background, _ = sampled_problem
    d = X.shape[1]  # a pair per size: fewer pairs than coefficients
    E = gl.kernel_shap(nonlinear, X, baseline=background, n_samples=2 * (d // 2), seed=0)
    assert np.all(np.isinf(E.stderr))
    assert np.all(np.isfinite(E.values))
    with pytest.raises(ValueError, match=r"n_samples >= 2 \* \(d // 2\) = 12"):
        gl.kernel_shap(nonlinear, X, baseline=background, n_samples=10)
    with pytest.raises(ValueError, match="estimator must be 'regression' or 'kernel'"):
        gl.kernel_shap(nonlinear, X, n_samples=100, estimator="leverage")


def test_budget_allows_exact_enumeration(rng):
    X = rng.normal(size=(2, 5))
    exact = gl.kernel_shap(nonlinear, X, n_samples=30)  # 2^5 - 2 = 30
    assert exact.params["exact"]
    assert exact.n_samples == 30
    assert not gl.kernel_shap(nonlinear, X, n_samples=29).params["exact"]
    big = gl.kernel_shap(nonlinear, X, n_samples=10_000)
    assert big.n_samples == 30
    assert big.values.tobytes() == exact.values.tobytes()


# ---------------------------------------------------------------------------- the rows the model sees


@pytest.mark.parametrize(("d", "n_samples", "B"), [(12, 50, 3), (12, 51, 1), (4, None, 2)])
def test_budget_is_respected(rng, d, n_samples, B):
    rec = Recorder(nonlinear)
    N = 5
    E = gl.kernel_shap(
        gl.Model(rec, batch_size=97),
        rng.normal(size=(N, d)),
        baseline=rng.normal(size=(B, d)),
        n_samples=n_samples,
    )
    n = E.n_samples  # sampled: the even part of the budget
    assert n == (n_samples // 2 * 2 if n_samples is not None else 2**d - 2)
    # n coalitions x B rows per point, f(x) once per point, E f(background) once.
    assert len(rec.rows) == N * (n * B + 1) + B
    assert max(len(b) for b in rec.batches) <= 97


def _allocation(d, pairs):
    """The design's pairs per level k (sizes k, d - k), by its rule: the kernel's share of each
    level (1 / (s (d - s)) per size); whole levels where they fit, the rest by largest remainder."""
    from math import comb

    levels = range(1, d // 2 + 1)
    pop = {k: comb(d, k) // (2 if 2 * k == d else 1) for k in levels}
    share = {k: (1 if 2 * k == d else 2) / (k * (d - k)) for k in levels}
    out, left, free = {}, pairs, set(levels)
    while True:
        tot = sum(share[k] for k in free)
        full = [
            k
            for k in sorted(free)
            if pop[k] <= left * share[k] / tot and left - pop[k] >= len(free) - 1
        ]
        if not full:
            break
        for k in full:
            out[k], left = pop[k], left - pop[k]
            free.discard(k)
    tot = sum(share[k] for k in free)
    ideal = {k: left * share[k] / tot for k in free}
    out.update({k: max(1, int(v)) for k, v in ideal.items()})
    for k in sorted(free, key=lambda k: (-(ideal[k] - int(ideal[k])), k))[
        : left - sum(out[k] for k in free)
    ]:
        out[k] += 1
    return out


def test_coalitions_follow_the_design():
    # x = 1, baseline = 0: every row the model sees is its coalition's mask.
    d, n, N = 7, 40, 300
    rec = Recorder(lambda A: A.sum(axis=1))
    gl.kernel_shap(gl.Model(rec), np.ones((N, d)), baseline=0.0, n_samples=n, seed=3)
    masks = rec.rows[1:].reshape(N, n + 1, d)[:, 1:].astype(int)  # drop E f(b) and f(x) rows
    # Odd coalitions are the complements of the one before; no coalition repeats in a point.
    assert np.all(masks[:, 0::2] + masks[:, 1::2] == 1)
    for pm in masks:
        assert len({tuple(r) for r in pm}) == n
    sizes = masks.sum(axis=2)
    assert sizes.min() >= 1
    assert sizes.max() <= d - 1
    # Level 1 (7 pairs) fits its share and is whole; levels 2 and 3 share the other 13 pairs.
    want = _allocation(d, n // 2)
    assert want == {1: 7, 2: 7, 3: 6}
    for k, pairs in want.items():
        assert np.all(
            (sizes[:, 0::2] == k).sum(axis=1) + (sizes[:, 0::2] == d - k).sum(axis=1) == pairs
        )
    # Given its size, a coalition is a uniform subset: each feature is in with probability s/d.
    flat = masks.reshape(-1, d)
    for size in (1, 3):
        inclusion = flat[sizes.ravel() == size].mean(axis=0)
        m = int(np.sum(sizes == size))
        assert np.all(np.abs(inclusion - size / d) < 4 * np.sqrt(size / d / m) + 0.01)


# ---------------------------------------------------------------------------- reproducibility


def elementwise(A):
    """Row-independent arithmetic only: any batching gives the same bits from the callable."""
    return np.sin(A[:, 0]) * A[:, 1] + A[:, 2] * A[:, 3] - np.tanh(A[:, 4:]).sum(axis=1)


@pytest.mark.parametrize("n_samples", [300, None])  # sampled (d = 12) and exact (d = 6)
def test_batch_size_does_not_change_a_bit(rng, n_samples):
    d = 12 if n_samples else 6
    X, background = rng.normal(size=(4, d)), rng.normal(size=(3, d))
    ref = gl.kernel_shap(elementwise, X, baseline=background, n_samples=n_samples, seed=9)
    for batch in (1, 7, 150, 1000, 100_000):
        E = gl.kernel_shap(
            gl.Model(elementwise, batch_size=batch), X, baseline=background,
            n_samples=n_samples, seed=9,
        )  # fmt: skip
        assert E.values.tobytes() == ref.values.tobytes()
        assert E.stderr.tobytes() == ref.stderr.tobytes()


def test_seed_changes_the_draws(rng):
    X = rng.normal(size=(2, 12))
    a = gl.kernel_shap(elementwise, X, n_samples=100, seed=1)
    b = gl.kernel_shap(elementwise, X, n_samples=100, seed=2)
    c = gl.kernel_shap(elementwise, X, n_samples=100, seed=1)
    assert a.values.tobytes() == c.values.tobytes()
    assert a.values.tobytes() != b.values.tobytes()


THREADS_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, gradlime as gl
    f = lambda A: np.sin(A[:, 0]) * A[:, 1] + A[:, 2] * A[:, 3] - np.tanh(A[:, 4:]).sum(axis=1)
    rng = np.random.default_rng(0)
    X, bg = rng.normal(size=(30, 12)), rng.normal(size=(4, 12))
    h = hashlib.sha256()
    for n in (500, 4094):
        E = gl.kernel_shap(gl.Model(f, batch_size=3000), X, baseline=bg, n_samples=n, seed=4)
        h.update(E.values.tobytes()); h.update(E.stderr.tobytes())
    print(gl._core.max_threads(), h.hexdigest())
""")


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_thread_count_does_not_change_a_bit():
    out = printed_by_thread_count(THREADS_SCRIPT)
    assert out["1"] == out["2"]


# ---------------------------------------------------------------------------- a native ONNX model


def test_native_onnx_model(rng):
    d = 5
    W = rng.normal(size=(d, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    data = onnx_net(W, b, activations=["Tanh", ("Softmax", {"axis": -1})])
    model = gl.Model.from_onnx(data, target=2)
    assert model.engine == "native"

    def f64(A):  # the same network in float64 numpy
        t = np.tanh(A @ W.astype(np.float64) + b)
        e = np.exp(t - t.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True))[:, 2]

    X, background = rng.normal(size=(3, d)), rng.normal(size=(4, d))
    E = gl.kernel_shap(model, X, baseline=background)
    for x, phi in zip(X, E.values, strict=True):
        np.testing.assert_allclose(phi, brute_force_shapley(f64, x, background), atol=2e-6)
    # Sampled through the native path equals sampled through the same network as a callable.
    S = gl.kernel_shap(model, X, baseline=background, n_samples=20, seed=1)
    T = gl.kernel_shap(gl.Model(model.f), X, baseline=background, n_samples=20, seed=1)
    np.testing.assert_array_equal(S.values, T.values)


# A native network runs fused (coalition rows filled straight into the network's blocks, each
# distinct coalition of a point evaluated once, points in parallel): it must give the batched
# path's bits, exact and sampled, for any background size (coalitions straddling blocks of 64).


def native_net(d, seed=0, head="softmax"):
    """d -> 8 (elu) -> 6 (tanh) -> 3 (head), float32 weights, built directly (no onnx needed)."""
    rng = np.random.default_rng(seed)
    net = gl._core.FeedForwardNetwork(d)
    for n_in, n_out, act in ((d, 8, "elu"), (8, 6, "tanh"), (6, 3, head)):
        net.add_dense(rng.normal(size=(n_out, n_in)) / np.sqrt(n_in), 0.1 * rng.normal(size=n_out))
        net.add_activation(act, alpha=1.0)
    return net


def shap_bytes(raw):
    return b"".join(
        np.asarray(raw[k], dtype=np.float64).tobytes()
        for k in ("values", "stderr", "fx", "expected_value")
    )


@pytest.mark.parametrize(
    ("d", "n_samples", "B"),
    [
        (6, None, 3),  # exact, 62 coalitions
        (6, None, 70),  # exact, a coalition's rows span two blocks
        (12, 301, 20),  # sampled, an odd count: the last coalition has no complement
        (12, 2048, 1),  # many repeated coalitions
        (15, 700, 64),
        (70, 80, 3),  # masks of two words
    ],
)
def test_fused_native_kernel_shap_has_the_batched_bits(d, n_samples, B):
    net = native_net(d, seed=d + B)
    rng = np.random.default_rng(B)
    X, background = rng.normal(size=(5, d)), rng.normal(size=(B, d))
    exact = n_samples is None
    n = n_samples or 2**d - 2
    kw = {"network": net, "target": 1, "exact": exact, "n_samples": n, "seed": 3}
    fused = gl._core.kernel_shap(X, background, None, None, **kw)
    for batch in (1000, 4096):
        batched = gl._core.kernel_shap(
            X, background, None, None, fused_network=False, batch_rows=batch, **kw
        )
        assert shap_bytes(fused) == shap_bytes(batched)
    gap = fused["values"].sum(axis=1) - (fused["fx"] - fused["expected_value"])
    assert np.all(np.abs(gap) <= 1e-12)
    assert np.all(fused["stderr"] == 0.0) if exact else np.all(fused["stderr"] > 0.0)


FUSED_THREADS_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, gradlime as gl
    rng = np.random.default_rng(0)
    net = gl._core.FeedForwardNetwork(12)
    net.add_dense(rng.normal(size=(7, 12)), rng.normal(size=7))
    net.add_activation("elu", alpha=1.0)
    net.add_dense(rng.normal(size=(2, 7)), rng.normal(size=2))
    net.add_activation("softmax")
    X, bg = rng.normal(size=(9, 12)), rng.normal(size=(5, 12))
    h, same = hashlib.sha256(), True
    for n in (500, 4094):
        kw = dict(network=net, target=0, n_samples=n, seed=4)
        fused = gl._core.kernel_shap(X, bg, None, None, **kw)
        batched = gl._core.kernel_shap(X, bg, None, None, fused_network=False, batch_rows=777, **kw)
        for k in ("values", "stderr", "fx"):
            h.update(fused[k].tobytes())
            same &= fused[k].tobytes() == batched[k].tobytes()
    print(same, gl._core.max_threads(), h.hexdigest())
""")


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_fused_native_kernel_shap_thread_count_does_not_change_a_bit():
    out = printed_by_thread_count(FUSED_THREADS_SCRIPT)
    assert out["1"] == out["2"]
    assert out["1"][0] == "True"


def overflowing_net():
    """f NaN where x0 > 1 and x1 > 1, else finite: two sigmoid steps, then 1e20 relu(u0 + u1 -
    1.5), times 1e20 again, overflows float32, and the softmax of inf is NaN."""
    net = gl._core.FeedForwardNetwork(3)
    net.add_dense(np.array([[1e3, 0.0, 0.0], [0.0, 1e3, 0.0]]), np.array([-1e3, -1e3]))
    net.add_activation("sigmoid")
    net.add_dense(np.array([[1e20, 1e20]]), np.array([-1.5e20]))
    net.add_activation("relu")
    net.add_dense(np.array([[1e20], [0.0]]), np.zeros(2))
    net.add_activation("softmax")
    return net


@pytest.mark.parametrize(
    ("X", "background", "match"),
    [
        # point 1's first bad row: a coalition with x0 from x, x1 from background row 1
        ([[0, 0, 0], [5, 0, 0], [5, 5, 0]], [[0, 0, 0], [0, 5, 0]], r"at point 1 \(coalition \d+, background row 1\)"),
        ([[0, 0, 1], [5, 5, 0]], [[0, 0, 0]], r"at point 1 \(the point itself\)"),
        ([[0, 0, 1]], [[0, 0, 0], [5, 5, 0]], r"at background row 1"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("exact", [True, False])
def test_fused_and_batched_report_the_same_non_finite_value(X, background, match, exact):
    X, background = np.array(X, dtype=float), np.array(background, dtype=float)
    n = 6 if exact else 40
    kw = {"network": overflowing_net(), "target": 0, "exact": exact, "n_samples": n}
    messages = []
    for fused in (True, False):
        with pytest.raises(ValueError, match=match) as err:
            gl._core.kernel_shap(X, background, None, None, fused_network=fused, **kw)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_fused_native_kernel_shap_stops_on_ctrl_c(tmp_path):
    """No Python runs on the fused path (500M model rows here); it still checks for Ctrl-C."""
    path = tmp_path / "net.onnx"
    path.write_bytes(onnx_net(np.full((20, 1), 0.1), activations=["Tanh"]))
    call = "gl.kernel_shap(m, np.zeros((10, 20)), baseline=np.ones((50, 20)), n_samples=2**20)"
    assert stops_on_ctrl_c(path, call)


def test_one_point_on_a_native_network_stops_on_ctrl_c(tmp_path):
    """Fewer points than threads: the batched executor runs the network (52M model rows)."""
    path = tmp_path / "net.onnx"
    path.write_bytes(onnx_net(np.full((20, 1), 0.1), activations=["Tanh"]))
    call = "gl.kernel_shap(m, np.zeros(20), baseline=np.ones((50, 20)), n_samples=2**20)"
    assert stops_on_ctrl_c(path, call)


# ---------------------------------------------------------------------------- errors


X3 = np.zeros((2, 3))
F3 = lambda A: A.sum(axis=1)


@pytest.mark.parametrize(
    ("baseline", "match"),
    [
        ([0.0, 1.0], r"shape \(3,\) or a background matrix of shape \(B, 3\).*got shape \(2,\)"),
        (np.zeros((4, 2)), r"got shape \(4, 2\)"),
        (np.zeros((0, 3)), r"B >= 1.*got shape \(0, 3\)"),
        (np.zeros((2, 2, 3)), r"got shape \(2, 2, 3\)"),
        ([0.0, np.nan, 0.0], r"baseline contains NaN or inf \(first at row 0, feature 1\)"),
    ],
)
def test_bad_baseline(baseline, match):
    with pytest.raises(ValueError, match=match):
        gl.kernel_shap(F3, X3, baseline=baseline)


def test_inf_in_X():
    with pytest.raises(ValueError, match=r"NaN or inf \(first at point 1, feature 2\)"):
        gl.kernel_shap(F3, [[0.0, 0.0, 0.0], [0.0, 0.0, np.inf]])


@pytest.mark.parametrize(("n", "err"), [(1, ValueError), (0, ValueError), (-5, ValueError),
                                        (2.5, TypeError), (True, TypeError)])  # fmt: skip
def test_bad_n_samples(n, err):
    with pytest.raises(err, match="n_samples must be"):
        gl.kernel_shap(F3, X3, n_samples=n)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed must be in"):
        gl.kernel_shap(F3, X3, seed=-1)


def test_model_returning_nan_names_the_point():
    def f(A):
        out = A.sum(axis=1)
        out[np.all(A == [7.0, 7.0, 7.0], axis=1)] = np.nan
        return out

    with pytest.raises(ValueError, match=r"non-finite value at point 1 \(the point itself\)"):
        gl.kernel_shap(f, [[0.0, 1.0, 2.0], [7.0, 7.0, 7.0]])


def test_model_returning_the_wrong_shape():
    with pytest.raises(ValueError, match=r"model f returned shape"):
        gl.kernel_shap(lambda A: A, X3)


def test_exception_in_the_callable_propagates():
    class Boom(RuntimeError):
        pass

    def f(A):
        raise Boom("from the user's model")

    with pytest.raises(Boom, match="from the user's model"):
        gl.kernel_shap(f, X3)


def test_model_with_the_wrong_number_of_features():
    model = gl.Model.from_onnx(onnx_net(np.ones((2, 1))))
    with pytest.raises(ValueError, match="X has 3 features but the model takes 2"):
        gl.kernel_shap(model, X3)


# ---------------------------------------------------------------------------- adaptive budget


def test_adaptive_budget_meets_the_tolerance_and_stops_early_where_the_game_is_flat(rng):
    """At the baseline every coalition has the same value: the first look's standard errors are
    zero. Elsewhere a point takes looks of 128, 256, ... coalitions until its errors are <= tol."""
    d = 12
    background = np.zeros((1, d))
    X = np.vstack([np.zeros(d), rng.normal(size=(5, d))])
    E = gl.kernel_shap(nonlinear, X, baseline=background, tol=2e-3, max_samples=4000, seed=2)
    used = np.asarray(E.samples_per_point)
    assert used[0] == 128
    assert np.all(np.isin(used, [128, 256, 512, 1024, 2048, 4000]))
    assert np.all((E.stderr.max(axis=1) <= 2e-3) | (used == 4000))
    assert used[1:].max() > 128
    gap = E.values.sum(axis=1) - (E.fx - E.base_values)
    assert np.all(np.abs(gap) <= 1e-12 * (1 + np.abs(E.values).sum(axis=1)))
    # a point that stopped at the first look has the bits of the fixed budget of that look
    fixed = gl.kernel_shap(nonlinear, X[:1], baseline=background, n_samples=128, seed=2)
    assert fixed.values.tobytes() == E.values[:1].tobytes()


def test_adaptive_bits_do_not_depend_on_batches_or_the_path(rng):
    pytest.importorskip("onnx")
    from onnx_graphs import build_onnx, mlp

    d = 11
    net = gl.Model.from_onnx(
        build_onnx(mlp(d=d, widths=(8, 1), act=("Tanh", {})), d).SerializeToString()
    )
    X, bg = (
        rng.normal(size=(6, d)) * np.linspace(0.05, 2, 6)[:, None],
        rng.normal(size=(3, d)) * 0.1,
    )
    kw = {"baseline": bg, "tol": 2e-3, "max_samples": 1500, "seed": 4}
    ref = gl.kernel_shap(net, X, **kw)
    for m in (gl.Model(net.f, batch_size=7), gl.Model(net.f, batch_size=1000)):
        E = gl.kernel_shap(m, X, **kw)
        np.testing.assert_array_equal(E.samples_per_point, ref.samples_per_point)
        np.testing.assert_allclose(
            E.values, ref.values, rtol=1e-5, atol=1e-7
        )  # float32 network vs callable
    assert len(set(np.asarray(ref.samples_per_point).tolist())) > 1


def test_adaptive_arguments():
    X = np.zeros((1, 12))
    with pytest.raises(ValueError, match="give tol= with it"):
        gl.kernel_shap(nonlinear, X, max_samples=300)
    E = gl.kernel_shap(nonlinear, np.ones((1, 5)), tol=1e-3)  # d = 5: exact, nothing to adapt
    assert E.params["exact"]
    assert E.samples_per_point == 30
