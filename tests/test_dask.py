"""Explanations over Dask (a LocalCluster of 2 worker processes): the same bits as the local
call for every sampling method, lipschitz and tradeoff, with native and callable models and
uneven chunks; DataFrames keep their names and index; a model's error on a worker reaches the
caller; the point offset alone (no dask) already gives a block the whole call's bits."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from gradlime import _streams
from onnx_graphs import build_onnx, dense

W = np.array([1.0, -2.0, 0.5, 0.3, -0.7])


def tanh_model():
    """Row by row (a BLAS matvec may round differently for another number of rows)."""
    return gl.Model(
        lambda A: np.tanh((A * W).sum(axis=1)),
        grad=lambda A: (1 - np.tanh((A * W).sum(axis=1))[:, None] ** 2) * W,
    )


def native_model():
    rng = np.random.default_rng(0)
    layers = [dense(rng, 5, 8), {"op": "Elu"}, dense(rng, 8, 1)]
    return gl.Model.from_onnx(build_onnx(layers, 5).SerializeToString())


MODELS = {"callable": tanh_model, "native": native_model}
METHODS = {
    "smoothgrad": {"sigma": 0.4, "n_samples": 64},
    "clime": {"sigma": 0.4, "n_samples": 64},
    "stein": {"sigma": 0.4, "n_samples": 64, "control_variate": True},
    "lime": {"n_samples": 64},
    "kernel_shap": {"n_samples": 16},
    "unigrad": {"radius": 0.3, "n_samples": 32, "qmc": True},
}
CHUNKS = (3, 5, 1, 4)  # uneven, 13 points
X = np.random.default_rng(1).normal(size=(sum(CHUNKS), 5))


def same(E, L):
    for name in ("values", "stderr", "data", "fx", "base_values", "samples_per_point"):
        np.testing.assert_array_equal(getattr(E, name), getattr(L, name), err_msg=name)
    assert E.method == L.method
    assert E.n_samples == L.n_samples
    assert E.params.keys() == L.params.keys()


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("model", list(MODELS))
def test_a_block_at_its_offset_draws_as_the_whole_call(method, model):
    fn, m = getattr(gl, method), MODELS[model]()
    whole = fn(m, X, **METHODS[method])
    for first, last in [(0, 4), (4, 5), (5, 13)]:
        with _streams.streams_from(first):
            part = fn(m, X[first:last], **METHODS[method])
        np.testing.assert_array_equal(part.values, whole.values[first:last])
        np.testing.assert_array_equal(part.stderr, whole.stderr[first:last])


@pytest.fixture(scope="module")
def client():
    """Two worker processes; started again once if a loaded machine misses the start's
    deadline (a worker process takes seconds to import numpy, torch and gradlime)."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
        for attempt in range(2):
            try:
                cluster = distributed.LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                )
                break
            except RuntimeError:
                if attempt:
                    raise
        with cluster, distributed.Client(cluster) as c:
            yield c


def dask_x(A=X, chunks=CHUNKS):
    da = pytest.importorskip("dask.array")
    return da.from_array(A, chunks=(chunks, *A.shape[1:]))


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("model", list(MODELS))
def test_every_method_over_dask_is_the_local_call_bit_for_bit(client, method, model):
    fn, m = getattr(gl, method), MODELS[model]()
    E = fn(m, dask_x(), **METHODS[method])
    assert "lazy over 4 dask blocks" in repr(E)
    assert E.values.shape == X.shape
    C = E.compute()
    L = fn(m, X, **METHODS[method])
    same(C, L)
    assert C.params == L.params or method in ("lime",)  # lime's baseline array compares by value


def test_explain_and_gl_compute_of_a_dict(client):
    m = native_model()
    kw = {"methods": ("smoothgrad", "clime", "stein"), "sigma": 0.3, "n_samples": 80}
    lazy = gl.explain(m, dask_x(), **kw)
    done = gl.compute(lazy)
    local = gl.explain(m, X, **kw)
    for name in kw["methods"]:
        same(done[name], local[name])


@pytest.mark.parametrize("crn", [True, False])
@pytest.mark.parametrize("model", list(MODELS))
def test_lipschitz_over_dask(client, model, crn):
    m = MODELS[model]()
    kw = {"n_neighbors": 4, "common_random_numbers": crn, "sigma": 0.4, "n_samples": 32}
    L = gl.lipschitz(m, X, "smoothgrad", **kw)
    C = gl.lipschitz(m, dask_x(), "smoothgrad", **kw).compute()
    np.testing.assert_array_equal(C.values, L.values)
    np.testing.assert_array_equal(C.argmax_neighbor, L.argmax_neighbor)
    assert C.mean == L.mean
    K = gl.lipschitz(m, dask_x(), "kernel_shap", n_neighbors=3, n_samples=16).compute()
    np.testing.assert_array_equal(
        K.values, gl.lipschitz(m, X, "kernel_shap", n_neighbors=3, n_samples=16).values
    )


def test_tradeoff_over_dask(client):
    m = tanh_model()
    kw = {"sigmas": [0.1, 0.5, 1.0], "n_neighbors": 3, "n_samples": 32}
    T, L = gl.tradeoff(m, dask_x(), **kw), gl.tradeoff(m, X, **kw)
    np.testing.assert_array_equal(T.lipschitz, L.lipschitz)
    np.testing.assert_array_equal(T.faithfulness, L.faithfulness)
    assert T.best_sigma == L.best_sigma


def test_dask_dataframes_keep_names_and_index(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(X, columns=list("abcde"), index=pd.Index([f"r{i:02}" for i in range(13)]))
    E = gl.smoothgrad(tanh_model(), dd.from_pandas(frame, npartitions=3), sigma=0.4, n_samples=64)
    assert E.feature_names == tuple("abcde")
    C = E.compute()
    L = gl.smoothgrad(tanh_model(), frame, sigma=0.4, n_samples=64)
    same(C, L)
    assert C.feature_names == L.feature_names
    assert list(C.index) == list(frame.index)
    assert list(C.to_pandas().index) == list(frame.index)


def test_images_over_dask(client):
    images = np.random.default_rng(2).normal(size=(5, 1, 3, 3))
    w = np.random.default_rng(3).normal(size=9)
    model = gl.Model(lambda A: np.sin((A.reshape(len(A), -1) * w).sum(axis=1)))
    E = gl.clime(model, dask_x(images, (2, 3)), sigma=0.2, n_samples=40)
    assert E.values.shape == images.shape
    same(E.compute(), gl.clime(model, images, sigma=0.2, n_samples=40))


def _raises(A):
    if (A[:, 0] > 100).any():
        raise ValueError("the model refuses rows past 100")
    return A.sum(axis=1)


def test_a_models_error_on_a_worker_reaches_the_caller(client):
    A = X.copy()
    A[7, 0] = 1000.0
    E = gl.clime(gl.Model(_raises), dask_x(A), sigma=1e-3, n_samples=10)
    with pytest.raises(ValueError, match="refuses rows past 100"):
        E.compute()


def test_a_torch_model_travels(client):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    m = gl.Model.from_torch(net)
    C = gl.smoothgrad(m, dask_x(), sigma=0.4, n_samples=32).compute()
    L = gl.smoothgrad(m, X, sigma=0.4, n_samples=32)
    # The same draws; torch's matmul may round a row differently in a batch of another size
    # (the module's arithmetic, not the engine's), so to float32 rounding.
    np.testing.assert_allclose(C.values, L.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(C.fx, L.fx, rtol=1e-5, atol=1e-7)


def test_without_dask_the_error_names_the_extra(monkeypatch):
    import builtins

    from gradlime import _dask

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] == "dask":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ImportError, match=r"gradlime\[dask\]"):
        _dask.import_dask()


def test_what_a_dask_x_must_be(client):
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    m = tanh_model()
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        gl.smoothgrad(m, da.from_array(X[0], chunks=2), sigma=0.3)
    series = dd.from_pandas(pd.Series(X[:, 0]), npartitions=2)
    with pytest.raises(TypeError, match="dask Series"):
        gl.smoothgrad(m, series, sigma=0.3)
    unknown = da.from_array(X, chunks=(4, 5))[da.from_array(X[:, 0] > 0, chunks=4)]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        gl.smoothgrad(m, unknown, sigma=0.3)
    lazy = gl.smoothgrad(m, da.from_array(X, chunks=(4, 5)), sigma=0.3, n_samples=16)
    for use in (lambda E: E.to_pandas(), lambda E: E[0], lambda E: E.plot()):
        with pytest.raises(ValueError, match=r"E\.compute\(\) first"):
            use(lazy)
    # Chunked along the features too: rechunked to whole points, the same bits.
    E = gl.smoothgrad(m, da.from_array(X, chunks=(4, 2)), sigma=0.3, n_samples=16)
    np.testing.assert_array_equal(
        E.compute().values, gl.smoothgrad(m, X, sigma=0.3, n_samples=16).values
    )
