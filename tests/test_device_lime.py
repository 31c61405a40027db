"""LIME on the CUDA backend (device/lime_sums.hpp, cpp/src/device_lime.cpp), and what every device
run does between chunks of points (progress, Ctrl-C). CI has no GPU: the backend's per-sample
code runs on the host (device="cuda_reference") and must give the CPU engine's answers; the GPU
tests at the end skip without a device."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import ctrl_c_latency, gpu, relative
from conftest import random_network as network
from gradlime import _core
from gradlime.models import network_of

X = np.random.default_rng(11).normal(size=(6, 7))


DEVICES = ("cpu", "cuda_reference", "cuda_emulation", "cuda_emulation:global")


def lime(model, X, device, baseline=None, **kw):
    args = {"n_samples": 400, "seed": 5, "kernel_width": 2.0, "ridge": 0.5}
    args.update(kw)
    base = np.zeros(X.shape[1]) if baseline is None else baseline
    return _core.lime(X, base, **model._engine_args(), device=device, **args)


@pytest.mark.parametrize(
    "acts", [("relu", "relu", None), ("elu", "tanh", "softmax")], ids=["relu", "elu-tanh-softmax"]
)
def test_lime_agrees_with_the_cpu_engine(acts):
    # The same masks (lime_mask_row is the definition lime_mask_words reproduces), the same kernel
    # weight of each sample (exp_nonpositive's operations one lane at a time), the same residuals;
    # the sums are added sample by sample, not in lanes and chunks: equal to double rounding, the
    # network's activations to float rounding.
    m = network(acts)
    base = np.random.default_rng(2).normal(size=7)
    cpu, ref = lime(m, X, "cpu", base), lime(m, X, "cuda_reference", base)
    tol = 1e-12 if acts[0] == "relu" else 1e-6
    assert relative(ref[0], cpu[0]) < tol
    assert relative(ref[1], cpu[1]) < tol
    np.testing.assert_array_equal(ref[2], cpu[2])


def test_two_mask_blocks_and_several_chunks_are_the_cpu_engines():
    # d = 130 draws two Philox blocks a mask; 40 points at n = 300 are two chunks of the
    # reference's 27.
    m = network(("relu", "relu", None), d=130, widths=(16, 8), out=2)
    P = np.random.default_rng(3).normal(size=(40, 130))
    kw = {"n_samples": 300, "kernel_width": 10.0}
    cpu, ref = lime(m, P, "cpu", **kw), lime(m, P, "cuda_reference", **kw)
    assert relative(ref[0], cpu[0]) < 1e-12
    assert relative(ref[1], cpu[1]) < 1e-11


def test_a_chunk_with_its_offset_is_the_whole_bit_for_bit():
    m = network(("relu", "relu", None))
    whole = lime(m, X, "cuda_reference")
    part = lime(m, X[3:], "cuda_reference", point_offset=3)
    np.testing.assert_array_equal(part[0], whole[0][3:])
    np.testing.assert_array_equal(part[1], whole[1][3:])


def test_a_linear_network_gives_w_times_the_gap():
    # f = w . x + b, ridge 0: keeping feature k adds w_k (x_k - baseline_k), exactly in float.
    w = np.array([[1.5, -2.0, 0.25, 4.0]])
    lin = gl.Model._native(
        network_of([("dense", w, np.array([0.5]))]), [("dense", w, np.array([0.5]))], 0, None
    )
    P = np.random.default_rng(4).normal(size=(5, 4))
    base = np.array([0.5, -1.0, 0.0, 2.0])
    ref = lime(lin, P, "cuda_reference", base, ridge=0.0, n_samples=256)
    np.testing.assert_allclose(ref[0], w * (P - base), rtol=1e-5, atol=1e-5)
    assert np.all(ref[1] < 1e-5)  # float rounding's residuals only


def test_weights_that_all_underflow_say_so_as_on_the_cpu():
    # d = 30: no mask of the 400 keeps every feature (which would weigh 1).
    m = network(("relu", "relu", None), d=30)
    far = np.full((1, 30), 1e3)
    messages = set()
    for device in DEVICES:
        with pytest.raises(ValueError, match="every kernel weight underflows") as err:
            lime(m, far, device, kernel_width=0.1)
        messages.add(str(err.value))
    assert len(messages) == 1


def test_a_singular_design_and_no_degrees_of_freedom_are_the_cpu_engines():
    # 4 masks of 8 features: without a ridge the design is singular, point 0 named; with one the
    # fit exists but leaves no degrees of freedom for the standard errors (NaN), as on the CPU.
    m = network(("relu", "relu", None), d=8)
    P = np.random.default_rng(5).normal(size=(2, 8))
    messages = set()
    for device in DEVICES:
        with pytest.raises(ValueError, match="singular at point 0; use more samples") as err:
            lime(m, P, device, n_samples=4, ridge=0.0)
        messages.add(str(err.value))
    assert len(messages) == 1
    cpu = lime(m, P, "cpu", n_samples=4, ridge=1.0)
    for device in DEVICES[1:]:
        ref = lime(m, P, device, n_samples=4, ridge=1.0)
        assert relative(ref[0], cpu[0]) < 1e-12
        assert np.isnan(ref[1]).all()
        assert np.isnan(cpu[1]).all()


def test_what_lime_on_the_device_does_not_run_is_refused():
    m = network(("relu", "relu", None))
    with pytest.raises(ValueError, match=r"not tol.*device='cpu'"):
        lime(m, X, "cuda_reference", stop_tol=0.1)
    with pytest.raises(ValueError, match="not a model that is not a native network"):
        _core.lime(X, np.zeros(7), f=lambda A: A.sum(1), grad=None, device="cuda_reference")
    with pytest.raises(ValueError, match="native networks"):
        gl.lime(lambda A: A.sum(1), X, device="cuda")


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_lipschitz_hands_the_device_to_lime_and_kernel_shap(method):
    with pytest.raises(ValueError, match="native networks"):
        gl.lipschitz(lambda A: A.sum(1), X, method, device="cuda", n_neighbors=2, n_samples=64)


def test_a_device_run_reports_progress_after_each_chunk():
    m = network(("relu", "relu", None))
    P = np.random.default_rng(6).normal(size=(60, 7))
    for run in (
        lambda report: lime(
            m, P, "cuda_reference", n_samples=300, progress=report, progress_interval=0.0
        ),
        lambda report: _core.run(
            P,
            **m._engine_args(),
            smoothgrad=True,
            stddev=np.ones(7),
            n_samples=300,
            device="cuda_reference",
            progress=report,
            progress_interval=0.0,
        ),
    ):
        reports: list[tuple[int, int]] = []
        run(lambda done, total, r=reports: r.append((done, total)))
        assert reports[-1] == (60, 60)
        done = [d for d, _ in reports]
        assert done == sorted(done)
        assert len(done) >= 2  # 27 points a chunk: three chunks


def test_a_device_run_stops_on_ctrl_c(tmp_path):
    # The reference's chunks are a few points each; the run polls for Ctrl-C after every one.
    setup = (
        "from gradlime import _core; from gradlime.models import network_of; "
        "L = [('dense', np.full((1, 20), 0.1), np.zeros(1))]; "
        "m = gl.Model._native(network_of(L), L, 0, None)"
    )
    call = (
        "_core.run(np.zeros((4000, 20)), **m._engine_args(), smoothgrad=True, clime=True, "
        "stddev=np.ones(20), n_samples=4000, device='cuda_reference')"
    )
    latency = ctrl_c_latency(call, setup=setup)
    assert latency is not None
    assert latency < 2.0


@gpu
@pytest.mark.parametrize("acts", [("relu", "relu", None), ("elu", "elu", "softmax")])
def test_cuda_lime_agrees_with_the_cpu_and_repeats_bit_for_bit(acts):
    m = network(acts, d=15, widths=(10, 10), out=2)
    P = np.random.default_rng(4).normal(size=(300, 15))
    cpu = gl.lime(m, P, n_samples=1000, seed=7)
    cuda = gl.lime(m, P, n_samples=1000, seed=7, device="cuda")
    again = gl.lime(m, P, n_samples=1000, seed=7, device="cuda")
    assert relative(cuda.values, cpu.values) < 1e-6
    assert relative(cuda.stderr, cpu.stderr) < 1e-5
    np.testing.assert_array_equal(cuda.values, again.values)
    ref = lime(m, P, "cuda_reference", n_samples=1000, seed=7, kernel_width=0.75 * 15**0.5)
    np.testing.assert_allclose(cuda.values, ref[0], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="without feature_mask"):
        gl.lime(m, P, feature_mask=np.arange(15) // 2, device="cuda")
