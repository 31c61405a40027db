"""The streaming driver's hooks: early stops, progress, sample schemes, point offsets, devices.

Every method runs on the one driver (cpp/include/gradlime/driver.hpp); these tests hold each hook
to an answer known without it: a stopped point equals a run with that many samples, a chunk with
an offset equals its rows of the whole, the host backend equals the CPU executors, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import elementwise_model, onnx_net, sine_model

_core = gl._core


def _native():
    W = np.random.default_rng(5).normal(size=(4, 3))
    return gl.Model.from_onnx(onnx_net(W, np.zeros(3), ["Tanh", ("Softmax", {})]), target=1)


def _models():
    return {"callable": elementwise_model(), "native": _native()}


def _points(n=9, d=4, seed=3):
    return np.random.default_rng(seed).normal(size=(n, d))


def _run(m, X, **kw):
    return _core.run(np.ascontiguousarray(X), **m._engine_args(), **kw)


def _lime(m, X, **kw):
    return _core.lime(np.ascontiguousarray(X), np.zeros(X.shape[1]), **m._engine_args(), **kw)


def _shap(m, X, **kw):
    return _core.kernel_shap(np.ascontiguousarray(X), _points(3, seed=9), **m._engine_args(), **kw)


GAUSSIAN = {"stddev": np.full(4, 0.3), "smoothgrad": True, "clime": True, "stein": True, "seed": 4}
STOPPING = {k: v for k, v in GAUSSIAN.items() if k != "stein"}  # a stop read at every block


def _bytes(result):
    if isinstance(result, dict):
        return {k: _bytes(v) for k, v in result.items()}
    if isinstance(result, tuple):
        return tuple(_bytes(v) for v in result)
    return np.asarray(result).tobytes()


# (a) a per-point stop decision after each block, from the point's running accumulators


def _stopping_models():
    # gradients whose spread differs from point to point, so the points stop at different n
    return {"callable": sine_model([1.0, 2.0, 0.5, 1.0]), "native": _native()}


def _tolerance(m, X):
    """Twice the median over points of SmoothGrad's largest standard error at n = 3000 (the stop
    reads it; C-LIME rides along): the points with a smaller spread stop well before 3000
    samples, the others run to the end."""
    se = _run(m, X, n_samples=3000, **STOPPING)["smoothgrad"][1].max(axis=1)
    return 2.0 * float(np.median(se))


@pytest.mark.parametrize("name", ["callable", "native"])
def test_a_stopped_point_equals_a_run_with_its_sample_count(name):
    m = _stopping_models()[name]
    X = _points() * np.linspace(0.1, 3.0, 9)[:, None]
    tol = _tolerance(m, X)
    out = _run(m, X, n_samples=3000, stop_tol=tol, **STOPPING)
    used = out["samples"]
    assert used.min() >= 128
    assert used.max() <= 3000
    assert len(set(used.tolist())) > 1
    assert all(u % 64 == 0 or u == 3000 for u in used)
    assert np.all(out["smoothgrad"][1][used < 3000] <= tol)
    for i, u in enumerate(used):
        alone = _run(m, X[i : i + 1], n_samples=int(u), point_offset=i, **STOPPING)
        for est in ("smoothgrad", "clime"):
            for a, b in zip(out[est], alone[est], strict=True):
                assert a[i].tobytes() == b[0].tobytes()


@pytest.mark.parametrize("name", ["callable", "native"])
def test_stops_do_not_depend_on_batches_or_executors(name):
    m = _stopping_models()[name]
    X = _points() * np.linspace(0.1, 3.0, 9)[:, None]
    kw = dict(STOPPING, n_samples=2000, stop_tol=_tolerance(m, X))
    ref = _bytes(_run(m, X, **kw))
    for extra in (
        {"batch_rows": 100},
        {"batch_rows": 777},
        {"fused_network": False},
        {"device": "host"},
    ):
        assert _bytes(_run(m, X, **kw, **extra)) == ref, extra


def test_clime_alone_stops_at_its_looks():
    """C-LIME's standard error needs its fit: it is looked at after 128 x 2^k samples."""
    m = elementwise_model()
    out = _run(m, _points(2), stddev=np.full(4, 0.3), clime=True, n_samples=5000, stop_tol=0.05)
    assert all(u in (128, 256, 512, 1024, 2048, 4096, 5000) for u in out["samples"])
    assert np.all(out["clime"][1][out["samples"] < 5000] <= 0.05)


# (b) a progress callback (points finished / total), at a bounded rate, with the GIL


@pytest.mark.parametrize("name", ["callable", "native"])
@pytest.mark.parametrize("method", ["engine", "lime", "kernel_shap"])
def test_progress_counts_points_up_to_the_total(name, method):
    m = _models()[name]
    X = _points(40)
    calls = []
    kw = {"progress": lambda done, total: calls.append((done, total)), "progress_interval": 0.0}
    if method == "engine":
        _run(m, X, n_samples=300, batch_rows=500, **GAUSSIAN, **kw)
    elif method == "lime":
        _lime(m, X, n_samples=300, batch_rows=500, **kw)
    else:
        _shap(m, X, n_samples=40, batch_rows=500, **kw)
    done = [d for d, _ in calls]
    assert all(t == 40 for _, t in calls)
    assert done == sorted(done)
    assert done[-1] == 40
    assert len(calls) >= 2


def test_progress_is_rate_bounded_and_its_errors_propagate():
    m = elementwise_model()
    calls = []
    _run(m, _points(40), n_samples=300, batch_rows=500, **GAUSSIAN,
         progress=lambda d, t: calls.append(d), progress_interval=1e9)  # fmt: skip
    assert calls == [40]  # only the final report within an interval that never passes

    def fail(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        _run(m, _points(40), n_samples=300, batch_rows=500, **GAUSSIAN, progress=fail,
             progress_interval=0.0)  # fmt: skip
    with pytest.raises(TypeError, match="progress must be a callable"):
        _run(m, _points(2), n_samples=300, **GAUSSIAN, progress=3)


# (c) a sample-scheme seam: how sample j of point i is made from the counters


def test_antithetic_pairs_are_e_and_minus_e():
    seen = []

    def f(A):
        seen.append(A.copy())
        return A.sum(axis=1)

    X = _points(2)
    _core.run(X, f, None, stddev=np.full(4, 0.3), clime=True, n_samples=102, batch_rows=37,
              antithetic=True)  # fmt: skip
    eps = np.concatenate(seen).reshape(2, 102, 4) - X[:, None, :]
    # x + e and x - e, each rounded once: e and -e to a few ulps of x
    np.testing.assert_allclose(eps[:, 1::2], -eps[:, 0::2], rtol=0, atol=1e-15)
    iid = []
    _core.run(X, lambda A: iid.append(A.copy()) or A.sum(axis=1), None, stddev=np.full(4, 0.3),
              clime=True, n_samples=102)  # fmt: skip
    np.testing.assert_array_equal(
        eps[:, 0::2], (np.concatenate(iid).reshape(2, 102, 4) - X[:, None])[:, 0::2]
    )


@pytest.mark.parametrize("cov", [None, np.eye(4) * 0.2 + 0.05])
def test_antithetic_has_the_same_bits_on_every_executor(cov):
    m = _native()
    X = _points()
    kw = dict(GAUSSIAN, n_samples=130, antithetic=True, kept_normals_bytes=0)
    if cov is not None:
        kw.pop("stddev")
        kw["cov"] = cov
    ref = _bytes(_run(m, X, **kw))
    # batches of 37 rows cut pairs in two: the second row waits for its first across batches
    for extra in (
        {"fused_network": False, "batch_rows": 50},
        {"fused_network": False, "batch_rows": 37},
        {"device": "host"},
    ):
        assert _bytes(_run(m, X, **kw, **extra)) == ref


def test_antithetic_smoothgrad_of_a_quadratic_is_exact():
    A = np.array([[2.0, 1.0], [0.0, 3.0]])
    m = gl.Model(lambda X: np.einsum("mi,ij,mj->m", X, A, X), grad=lambda X: X @ (A + A.T))
    out = _run(m, np.array([[1.0, -1.0]]), stddev=np.full(2, 0.5), smoothgrad=True,
               n_samples=10, antithetic=True)  # fmt: skip
    np.testing.assert_allclose(out["smoothgrad"][0][0], (A + A.T) @ [1.0, -1.0], rtol=1e-14)


def test_scheme_errors():
    m = elementwise_model()
    with pytest.raises(ValueError, match="qmc needs 2, 4, 8, 16 or 32 scrambles"):
        _run(m, _points(2), n_samples=12, **GAUSSIAN, qmc=3)
    with pytest.raises(
        ValueError, match=r"needs n_samples \(and max_samples\) a multiple of 16; got 24"
    ):
        _run(m, _points(2), n_samples=24, **GAUSSIAN, qmc=8, antithetic=True)
    with pytest.raises(ValueError, match="n_samples must be even; got 11"):
        _run(m, _points(2), n_samples=11, **GAUSSIAN, antithetic=True)


# (d) a global point offset: a chunk starting at global row k draws streams k + i


@pytest.mark.parametrize("name", ["callable", "native"])
@pytest.mark.parametrize("method", ["engine", "lime", "kernel_shap"])
def test_chunks_with_offsets_equal_the_whole(name, method):
    m = _models()[name]
    X = _points(11)
    call = {
        "engine": lambda A, **kw: _run(m, A, n_samples=200, **GAUSSIAN, **kw),
        "lime": lambda A, **kw: dict(
            zip(("values", "stderr"), _lime(m, A, n_samples=200, **kw), strict=False)
        ),
        "kernel_shap": lambda A, **kw: _shap(m, A, n_samples=30, **kw),
    }[method]
    whole = call(X)
    for k0, k1 in ((0, 4), (4, 5), (5, 11)):
        part = call(X[k0:k1], point_offset=k0)
        if method == "kernel_shap":
            assert part["expected_value"] == whole["expected_value"]
        for key in (k for k in whole if k not in ("expected_value", "coalitions", "cubic")):
            w, p = whole[key], part[key]
            if isinstance(w, tuple):
                for a, b in zip(w, p, strict=True):
                    assert a[k0:k1].tobytes() == b.tobytes()
            else:
                assert np.asarray(w)[k0:k1].tobytes() == np.asarray(p).tobytes()


def test_offsets_past_the_stream_space_are_refused():
    with pytest.raises(ValueError, match=r"point_offset \+ N must be <= 2\^32"):
        _run(elementwise_model(), _points(2), n_samples=10, **GAUSSIAN, point_offset=2**32 - 1)


# (e) a seam where a device backend takes over drawing and accumulation


@pytest.mark.parametrize("name", ["callable", "native"])
def test_the_host_backend_reproduces_the_cpu_executors(name):
    m = _models()[name]
    X = _points(5)
    assert _bytes(_run(m, X, n_samples=150, **GAUSSIAN, device="host")) == _bytes(
        _run(m, X, n_samples=150, **GAUSSIAN)
    )
    assert _bytes(_lime(m, X, n_samples=150, device="host")) == _bytes(_lime(m, X, n_samples=150))
    assert _bytes(_shap(m, X, n_samples=30, device="host")) == _bytes(_shap(m, X, n_samples=30))
    assert _bytes(_shap(m, X, exact=True, device="host")) == _bytes(_shap(m, X, exact=True))


def test_device_errors_say_which():
    m = elementwise_model()
    with pytest.raises(ValueError, match=r"CUDA backend runs .* of native networks"):
        _run(m, _points(2), n_samples=10, **GAUSSIAN, device="cuda")
    with pytest.raises(ValueError, match="CUDA backend runs lime of native networks"):
        _lime(m, _points(2), n_samples=10, device="cuda")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        _lime(m, _points(2), n_samples=10, device="tpu")
