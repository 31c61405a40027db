"""Shared draws, bitwise reproducibility and the shape of the public API."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import gradlime as gl
from conftest import Recorder, elementwise_model, printed_by_thread_count

METHODS = ("smoothgrad", "clime", "stein")


def _bits(E):
    return {name: (e.values.tobytes(), e.stderr.tobytes()) for name, e in E.items()}


def test_explain_shares_draws_with_single_calls(rng):
    model = elementwise_model()
    X = rng.normal(size=(3, 4))
    kw = {"sigma": 0.4, "n_samples": 300, "seed": 17}
    E = gl.explain(model, X, **kw)
    singles = {
        "smoothgrad": gl.smoothgrad(model, X, **kw),
        "clime": gl.clime(model, X, **kw),
        "stein": gl.stein(model, X, **kw),
    }
    assert _bits(E) == _bits(singles)


def test_the_model_sees_one_set_of_draws():
    rec = Recorder(elementwise_model().f)
    model = gl.Model(rec, grad=elementwise_model().grad)
    gl.explain(model, np.zeros((2, 4)), n_samples=50, seed=1)
    # once for all three methods, not three times (and f(x) once for their fx)
    assert rec.perturbations(np.zeros((2, 4))).shape == (100, 4)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 150, 1000, 100000])
def test_batch_size_does_not_change_a_bit(rng, batch_size):
    X = rng.normal(size=(5, 4))
    ref = gl.explain(elementwise_model(), X, n_samples=150, seed=2)
    m = elementwise_model()
    batched = gl.Model(m.f, grad=m.grad, batch_size=batch_size)
    assert _bits(gl.explain(batched, X, n_samples=150, seed=2)) == _bits(ref)


def test_batches_are_bounded_by_batch_size():
    rec = Recorder(lambda A: A.sum(axis=1))
    gl.stein(gl.Model(rec, batch_size=96), np.zeros((7, 3)), n_samples=100)
    assert max(len(b) for b in rec.batches) <= 96
    assert sum(len(b) for b in rec.batches) == 700 + 7  # and f at the 7 points


def test_kept_and_redrawn_normals_agree(rng):
    # C-LIME and Stein need a point's normals twice: kept from the batch when small, drawn again
    # otherwise. The two paths must agree to the bit.
    X = rng.normal(size=(3, 4))
    m = elementwise_model()
    common = {
        "stddev": np.full(4, 0.5),
        "clime": True,
        "stein": True,
        "n_samples": 5000,
        "seed": 3,
        "batch_rows": 777,
    }
    kept = gl._core.run(X, m.f, None, kept_normals_bytes=1 << 30, **common)
    redrawn = gl._core.run(X, m.f, None, kept_normals_bytes=0, **common)
    for name in ("clime", "stein"):
        for a, b in zip(kept[name], redrawn[name], strict=True):
            assert a.tobytes() == b.tobytes()


SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, gradlime as gl
    f = lambda A: np.sin(A[:, 0]) * np.cos(A[:, 1]) + A[:, 2] ** 2
    g = lambda A: np.stack([np.cos(A[:, 0]) * np.cos(A[:, 1]), -np.sin(A[:, 0]) * np.sin(A[:, 1]), 2 * A[:, 2]], 1)
    X = np.random.default_rng(0).normal(size=(40, 3))
    E = gl.explain(gl.Model(f, grad=g, batch_size=1000), X, n_samples=5000, seed=7)
    h = hashlib.sha256()
    for k in sorted(E):
        h.update(E[k].values.tobytes()); h.update(E[k].stderr.tobytes())
    print(gl._core.max_threads(), h.hexdigest())
""")


@pytest.mark.skipif(not gl._core.openmp, reason="built without OpenMP: one thread only")
def test_thread_count_does_not_change_a_bit():
    out = printed_by_thread_count(SCRIPT)
    assert out["1"] == out["2"]


def test_seed_changes_the_draws_and_repeats_exactly(rng):
    X = rng.normal(size=(2, 4))
    a = gl.clime(elementwise_model(), X, n_samples=100, seed=1)
    b = gl.clime(elementwise_model(), X, n_samples=100, seed=1)
    c = gl.clime(elementwise_model(), X, n_samples=100, seed=2)
    assert a.values.tobytes() == b.values.tobytes()
    assert not np.array_equal(a.values, c.values)


def test_points_are_independent_streams():
    # Identical points get independent draws: the estimates differ, their spread is the stderr.
    E = gl.stein(lambda A: A[:, 0] ** 2, np.zeros((3, 2)), n_samples=100)
    assert len({row.tobytes() for row in E.values}) == 3


def test_explanation_api(rng):
    x = rng.normal(size=4)
    E = gl.clime(elementwise_model(), x, sigma=0.3, n_samples=200, ridge=0.1, seed=5)
    assert isinstance(E, gl.Explanation)
    assert E.values.shape == E.stderr.shape == (4,)  # a 1-D X gives 1-D values
    assert E.method == "clime"
    assert E.n_samples == 200
    assert E.params["sigma"] == 0.3
    assert E.params["seed"] == 5
    assert E.params["ridge"] == 0.1
    np.testing.assert_array_equal(np.asarray(E), E.values)
    assert "clime" in repr(E)
    E2 = gl.clime(elementwise_model(), x[None, :], sigma=0.3, n_samples=200, ridge=0.1, seed=5)
    assert E2.values.shape == (1, 4)
    np.testing.assert_array_equal(E2.values[0], E.values)


def test_plain_callable_and_list_input():
    E = gl.stein(lambda A: A @ [1.0, 2.0], [[0.0, 0.0], [1.0, 1.0]], n_samples=50)
    assert E.values.shape == (2, 2)


def test_float32_and_column_outputs_are_accepted():
    E = gl.clime(lambda A: (A @ [1.0, 2.0]).astype(np.float32)[:, None], np.zeros(2), n_samples=50)
    np.testing.assert_allclose(E.values, [1.0, 2.0], atol=1e-5)


def test_per_feature_sigma_and_cov_params():
    E = gl.stein(lambda A: A[:, 0], np.zeros(2), sigma=[0.5, 2.0], n_samples=50)
    np.testing.assert_array_equal(E.params["sigma"], [0.5, 2.0])
    C = gl.stein(lambda A: A[:, 0], np.zeros(2), cov=np.eye(2), n_samples=50)
    np.testing.assert_array_equal(C.params["cov"], np.eye(2))


def test_arrays_handed_to_the_callable_are_never_changed_afterwards():
    # The engine reuses a batch array only when the callable kept no reference to it.
    kept, copies = [], []

    def f(A):
        if len(kept) % 2 == 0:  # keep every other batch
            kept.append(A)
            copies.append(A.copy())
        else:
            kept.append(None)
        return A[:, 0]

    gl.stein(gl.Model(f, batch_size=64), np.zeros((20, 3)), n_samples=100)
    held = [a for a in kept if a is not None]
    assert len(held) > 5
    for a, c in zip(held, [c for c in copies], strict=True):
        np.testing.assert_array_equal(a, c)


def test_an_unaligned_buffer_gives_the_aligned_arrays_bits():
    # A buffer unpickled from another process (Dask) may start at any byte: it is read as an
    # aligned copy (the core reads whole doubles), with the same results.
    buf = np.zeros(8 * 12 + 1, dtype=np.uint8)
    X = np.frombuffer(buf.data, dtype=np.float64, count=12, offset=1).reshape(6, 2)
    X.setflags(write=False)
    assert not X.flags.aligned
    model = gl.Model(lambda A: np.sin(A).sum(1), grad=np.cos)
    for name in ("smoothgrad", "clime"):
        a = getattr(gl, name)(model, X, n_samples=50).values
        np.testing.assert_array_equal(a, getattr(gl, name)(model, X.copy(), n_samples=50).values)
    np.testing.assert_array_equal(
        gl.lime(model, X, n_samples=50).values, gl.lime(model, X.copy(), n_samples=50).values
    )
