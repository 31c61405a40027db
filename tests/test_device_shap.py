"""KernelSHAP on the CUDA backend (device/shap_sums.hpp, cpp/src/device_shap.cpp): the coalitions'
rows evaluated and summed on the device, the fit the CPU engine's. CI has no GPU: the backend's
per-row code runs on the host (device="cuda_reference") and must give the CPU engine's answers;
the GPU tests at the end skip without a device."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import gpu, relative
from conftest import random_network as network
from gradlime import _core
from gradlime.models import network_of

rng = np.random.default_rng(21)
X = rng.normal(size=(6, 7))
BACKGROUND = rng.normal(size=(9, 7))
BACKGROUND12 = rng.normal(size=(5, 12))


def shap(model, X, device, background=BACKGROUND, **kw):
    args = {"n_samples": 64, "seed": 4}
    args.update(kw)
    return _core.kernel_shap(X, background, **model._engine_args(), device=device, **args)


def assert_same(a, b):
    for key in ("values", "stderr", "fx", "samples"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["expected_value"] == b["expected_value"]
    assert a["cubic"] == b["cubic"]


@pytest.mark.parametrize("exact", [False, True], ids=["sampled", "exact"])
def test_a_relu_network_gives_the_cpu_engines_shapley_values_bit_for_bit(exact):
    # Each coalition's value summed over the background rows in row order, as the engine does;
    # the same network arithmetic (fmaf, relu); the same fit from the same sums.
    m = network(("relu", "relu", None))
    kw = {"exact": True} if exact else {}
    assert_same(shap(m, X, "cuda_reference", **kw), shap(m, X, "cpu", **kw))


def test_every_activation_agrees_with_the_cpu_engine():
    m = network(("elu", "tanh", "softmax"))
    cpu, ref = shap(m, X, "cpu"), shap(m, X, "cuda_reference")
    assert relative(ref["values"], cpu["values"]) < 1e-6
    assert relative(ref["stderr"], cpu["stderr"]) < 1e-5
    assert abs(ref["expected_value"] - cpu["expected_value"]) < 1e-6


def test_several_chunks_and_a_chunk_with_its_offset():
    # 12 features sample 2048 of their 4094 coalitions; the reference takes 8192 / 2048 = 4 points
    # a chunk: 10 points are three.
    m = network(("relu", "relu", None), d=12)
    P = np.random.default_rng(3).normal(size=(10, 12))
    kw = {"n_samples": 2048, "background": BACKGROUND12}
    whole = shap(m, P, "cuda_reference", **kw)
    assert_same(whole, shap(m, P, "cpu", **kw))
    part = shap(m, P[5:], "cuda_reference", point_offset=5, **kw)
    np.testing.assert_array_equal(part["values"], whole["values"][5:])


def test_a_linear_network_gives_w_times_the_gap_to_the_background_mean():
    # f = w . x + b: phi_k = w_k (x_k - mean_b b_k), exactly in exact arithmetic; float here.
    w = np.array([[1.5, -2.0, 0.25, 4.0, -1.0]])
    layers = [("dense", w, np.array([0.5]))]
    lin = gl.Model._native(network_of(layers), layers, 0, None)
    P = np.random.default_rng(4).normal(size=(4, 5))
    bg = np.random.default_rng(5).normal(size=(7, 5))
    E = gl.kernel_shap(lin, P, baseline=bg)  # exact: 5 features
    ref = shap(lin, P, "cuda_reference", background=bg, exact=True)
    np.testing.assert_allclose(ref["values"], w * (P - bg.mean(0)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ref["values"].sum(1), ref["fx"] - ref["expected_value"], atol=1e-9)
    np.testing.assert_array_equal(ref["values"], E.values)


def test_what_kernel_shap_on_the_device_does_not_run_is_refused():
    m = network(("relu", "relu", None))
    with pytest.raises(ValueError, match=r"not tol.*device='cpu'"):
        shap(m, X, "cuda_reference", stop_tol=0.1, looks=[16])
    with pytest.raises(ValueError, match="not a model that is not a native network"):
        _core.kernel_shap(X, BACKGROUND, f=lambda A: A.sum(1), grad=None, device="cuda_reference")
    with pytest.raises(ValueError, match="native networks"):
        gl.kernel_shap(lambda A: A.sum(1), X, device="cuda")


def test_a_device_run_reports_progress():
    m = network(("relu", "relu", None), d=12)
    P = np.random.default_rng(6).normal(size=(10, 12))
    reports: list[tuple[int, int]] = []
    shap(
        m,
        P,
        "cuda_reference",
        background=BACKGROUND12,
        n_samples=2048,
        progress=lambda done, total: reports.append((done, total)),
        progress_interval=0.0,
    )
    assert [d for d, _ in reports] == [4, 8, 10]


@gpu
@pytest.mark.parametrize("acts", [("relu", "relu", None), ("elu", "elu", "softmax")])
def test_cuda_kernel_shap_agrees_with_the_cpu_and_repeats_bit_for_bit(acts):
    m = network(acts, d=15, widths=(10, 10), out=2)
    P = np.random.default_rng(4).normal(size=(200, 15))
    bg = np.random.default_rng(5).normal(size=(50, 15))
    cpu = gl.kernel_shap(m, P, baseline=bg, n_samples=512, seed=3)
    cuda = gl.kernel_shap(m, P, baseline=bg, n_samples=512, seed=3, device="cuda")
    again = gl.kernel_shap(m, P, baseline=bg, n_samples=512, seed=3, device="cuda")
    assert relative(cuda.values, cpu.values) < 1e-6
    np.testing.assert_array_equal(cuda.values, again.values)
    ref = shap(m, P, "cuda_reference", background=bg, n_samples=512, seed=3)
    np.testing.assert_allclose(cuda.values, ref["values"], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="without feature_mask"):
        gl.kernel_shap(m, P, baseline=bg, feature_mask=np.arange(15) // 2, device="cuda")
