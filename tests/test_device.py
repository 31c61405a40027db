"""The CUDA backend (cpp/cuda/, device/estimates.hpp): the Gaussian family. CI has no GPU: its
per-sample code (draws, network row, per-point sums) runs here on the host, through the engine's
device seam (device="cuda_reference"), and must give the CPU engine's answers; the GPU tests at
the end skip without a device. LIME's: test_device_lime.py."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from conftest import gpu, relative
from conftest import random_network as network
from gradlime import _core
from gradlime.models import network_of


def engine(model, X, device, **kw):
    args = {
        "smoothgrad": True,
        "clime": True,
        "n_samples": 300,
        "seed": 3,
        "stddev": np.full(X.shape[1], 0.7),
    }
    args.update(kw)
    return _core.run(X, **model._engine_args(), device=device, **args)


X = np.random.default_rng(1).normal(size=(5, 7))


def test_a_relu_network_gives_the_cpu_engines_smoothgrad_bit_for_bit():
    # The same draws (gaussian_pair is gaussian_row's), the same float network arithmetic (fmaf,
    # relu), GradientMoments' lanes and tree: the same bits. C-LIME's sums are added in another
    # order (sample by sample, not lanes): equal to double rounding.
    m = network(("relu", "relu", None))
    cpu, ref = engine(m, X, "cpu"), engine(m, X, "cuda_reference")
    np.testing.assert_array_equal(ref["smoothgrad"][0], cpu["smoothgrad"][0])
    np.testing.assert_array_equal(ref["smoothgrad"][1], cpu["smoothgrad"][1])
    assert relative(ref["clime"][0], cpu["clime"][0]) < 1e-12
    assert relative(ref["clime"][1], cpu["clime"][1]) < 1e-12
    np.testing.assert_array_equal(ref["samples"], cpu["samples"])


@pytest.mark.parametrize(
    "acts",
    [("elu", "elu", None), ("tanh", "sigmoid", "softmax"), ("softplus", "selu", "log_softmax")],
    ids=["elu", "tanh-sigmoid-softmax", "softplus-selu-logsoftmax"],
)
def test_every_activation_agrees_with_the_cpu_engine(acts):
    # Activations' polynomial kernels round differently unvectorised: float rounding, no more.
    m = network(acts)
    cpu, ref = engine(m, X, "cpu", ridge=0.1), engine(m, X, "cuda_reference", ridge=0.1)
    for name in ("smoothgrad", "clime"):
        assert relative(ref[name][0], cpu[name][0]) < 1e-6
        assert relative(ref[name][1], cpu[name][1]) < 1e-5


def test_many_chunks_of_points_are_the_engines_bit_for_bit():
    # The reference keeps 64 KiB of values a chunk: 27 points at n = 300, so 64 points are three
    # chunks, each finished before the next (the orchestration a device runs under its memory).
    m = network(("relu", "relu", None))
    P = np.random.default_rng(6).normal(size=(64, 7))
    cpu, ref = engine(m, P, "cpu", stein=True), engine(m, P, "cuda_reference", stein=True)
    np.testing.assert_array_equal(ref["smoothgrad"][0], cpu["smoothgrad"][0])
    for name in ("clime", "stein"):
        assert relative(ref[name][0], cpu[name][0]) < 1e-12
        assert relative(ref[name][1], cpu[name][1]) < 1e-12


@pytest.mark.parametrize(("d", "ridge"), [(7, 0.0), (7, 0.3), (40, 0.05)])
def test_clime_s_solve_on_the_device_is_the_engines_to_double_rounding(d, ridge):
    # The device's own Cholesky and sandwich (device/fits.hpp) against Eigen's: at d = 40 a
    # step's trailing update has 741 entries, spread over the 128 threads of a block.
    m = network(("relu", "relu", None), d=d)
    P = np.random.default_rng(d).normal(size=(6, d))
    kw = {"smoothgrad": False, "ridge": ridge, "stddev": np.linspace(0.3, 1.2, d)}
    cpu = engine(m, P, "cpu", **kw)
    for device in ("cuda_reference", "cuda_emulation", "cuda_emulation:global"):
        ref = engine(m, P, device, **kw)
        assert relative(ref["clime"][0], cpu["clime"][0]) < 1e-13
        assert relative(ref["clime"][1], cpu["clime"][1]) < 1e-13


def test_a_singular_design_on_the_device_is_named_as_on_the_cpu():
    # A scale of 1e-170 squares to below the smallest double: a zero pivot, point 0 named first.
    m = network(("tanh", "tanh", None))
    s = np.ones(7)
    s[2] = 1e-170
    messages = set()
    for device in ("cpu", "cuda_reference", "cuda_emulation", "cuda_emulation:global"):
        with pytest.raises(ValueError, match="singular at point 0") as info:
            engine(m, X, device, stddev=s, smoothgrad=False)
        messages.add(str(info.value))
    assert len(messages) == 1


def test_a_chunk_with_its_offset_and_common_draws_are_the_engines():
    m = network(("relu", "relu", None))
    whole = engine(m, X, "cuda_reference")
    part = engine(m, X[2:], "cuda_reference", point_offset=2)
    np.testing.assert_array_equal(part["smoothgrad"][0], whole["smoothgrad"][0][2:])
    np.testing.assert_array_equal(part["clime"][0], whole["clime"][0][2:])
    common = engine(m, X, "cuda_reference", common_draws=True)
    cpu = engine(m, X, "cpu", common_draws=True)
    np.testing.assert_array_equal(common["smoothgrad"][0], cpu["smoothgrad"][0])


def test_stein_agrees_with_the_cpu_engine():
    # The gradient-free SmoothGrad's terms summed in sample order (the CPU: Chan's merge of
    # chunks): equal to double rounding on a ReLU network, to float rounding on an ELU one.
    for acts, tol in ((("relu", "relu", None), 1e-12), (("elu", "tanh", "softmax"), 1e-6)):
        m = network(acts)
        kw = {"smoothgrad": False, "clime": False, "stein": True}
        cpu, ref = engine(m, X, "cpu", **kw), engine(m, X, "cuda_reference", **kw)
        assert relative(ref["stein"][0], cpu["stein"][0]) < tol
        assert relative(ref["stein"][1], cpu["stein"][1]) < tol


def test_unigrad_the_uniform_kernel_is_the_engines_bit_for_bit():
    m = network(("relu", "relu", None))
    kw = {"smoothgrad": True, "clime": False, "kernel": "uniform"}
    np.testing.assert_array_equal(
        engine(m, X, "cuda_reference", **kw)["smoothgrad"][0],
        engine(m, X, "cpu", **kw)["smoothgrad"][0],
    )


def test_a_linear_network_is_explained_exactly():
    # f = w . x + b: SmoothGrad's every gradient is w (zero spread), C-LIME's fit is exact.
    w = np.array([[1.5, -2.0, 0.25]])
    m = gl.Model._native(
        network_of([("dense", w, np.array([0.5]))]), [("dense", w, np.array([0.5]))], 0, None
    )
    P = np.random.default_rng(2).normal(size=(4, 3))
    ref = engine(m, P, "cuda_reference", stddev=np.array([0.3, 1.0, 2.0]), n_samples=64)
    np.testing.assert_array_equal(ref["smoothgrad"][0], np.repeat(w.astype(np.float32), 4, 0))
    np.testing.assert_array_equal(ref["smoothgrad"][1], 0.0)
    np.testing.assert_allclose(ref["clime"][0], np.repeat(w, 4, 0), rtol=1e-6)


@pytest.mark.parametrize(
    ("kw", "what"),
    [
        ({"stein": True, "stein_cv": True, "n_samples": 400}, "stein's control variate"),
        ({"antithetic": True}, "antithetic or QMC"),
        ({"qmc": 8, "n_samples": 304}, "antithetic or QMC"),
        ({"stop_tol": 0.1}, "tol"),
        ({"stddev": None, "cov": np.eye(7)}, "diagonal Gaussian or the uniform cube"),
    ],
)
def test_what_the_device_does_not_run_is_refused_by_name(kw, what):
    m = network(("relu", "relu", None))
    with pytest.raises(ValueError, match=f"not .*{what}.*device='cpu'"):
        engine(m, X, "cuda_reference", **kw)


def test_a_python_model_on_the_device_is_refused():
    m = gl.Model(lambda A: A.sum(1), grad=np.ones_like)
    with pytest.raises(ValueError, match="native networks"):
        gl.smoothgrad(m, X, device="cuda")
    with pytest.raises(ValueError, match="not a model that is not a native network"):
        _core.run(
            X, f=m.f, grad=m.grad, stddev=np.ones(7), smoothgrad=True, device="cuda_reference"
        )


def test_lipschitz_hands_the_device_to_its_method():
    m = gl.Model(lambda A: A.sum(1), grad=np.ones_like)
    with pytest.raises(ValueError, match="native networks"):
        gl.lipschitz(m, X, "smoothgrad", device="cuda", n_samples=20, n_neighbors=2)


@pytest.mark.parametrize(
    ("device", "error"), [("gpu", ValueError), ("cuda:x", ValueError), (3, TypeError)]
)
def test_bad_device_names(device, error):
    with pytest.raises(error, match="device must be"):
        gl.smoothgrad(network(("relu", "relu", None)), X, device=device)


def test_cuda_info_says_what_this_build_and_machine_can_do():
    info = gl.cuda_info()
    assert set(info) == {"compiled", "devices", "error", "names"}
    assert info["compiled"] == _core.cuda
    assert gl.cuda_available() == (info["compiled"] and info["devices"] > 0)
    if not gl.cuda_available():
        assert info["error"]
        with pytest.raises(RuntimeError, match=r"built without CUDA|no usable CUDA device"):
            gl.smoothgrad(network(("relu", "relu", None)), X, device="cuda")


def test_a_torch_model_on_the_cpu_asks_for_its_device():
    torch = pytest.importorskip("torch")
    m = gl.Model.from_torch(torch.nn.Linear(7, 1).double())
    with pytest.raises(ValueError, match=r"from_torch\(module, device='cuda'\)"):
        gl.smoothgrad(m, X, device="cuda")
    np.testing.assert_array_equal(  # device="cpu" is the default path
        gl.smoothgrad(m, X, device="cpu", n_samples=20).values,
        gl.smoothgrad(m, X, n_samples=20).values,
    )


@gpu
@pytest.mark.parametrize("acts", [("relu", "relu", None), ("elu", "elu", "softmax")])
def test_cuda_agrees_with_the_cpu_and_repeats_bit_for_bit(acts):
    m = network(acts, d=15, widths=(10, 10), out=2)
    P = np.random.default_rng(4).normal(size=(300, 15))
    kw = {"sigma": 0.5, "n_samples": 1000, "seed": 7}
    cpu = gl.explain(m, P, **kw)
    cuda = gl.explain(m, P, device="cuda", **kw)
    again = gl.explain(m, P, device="cuda", **kw)
    for name in ("smoothgrad", "clime", "stein"):
        assert relative(cuda[name].values, cpu[name].values) < 1e-6
        assert relative(cuda[name].stderr, cpu[name].stderr) < 1e-5
        np.testing.assert_array_equal(cuda[name].values, again[name].values)
        assert cuda[name].params["device"] == "cuda"


@gpu
def test_cuda_is_the_host_reference_and_exact_on_a_linear_network():
    m = network(("tanh", "elu", None), d=9)
    P = np.random.default_rng(5).normal(size=(64, 9))
    ref, cuda = engine(m, P, "cuda_reference"), engine(m, P, "cuda")
    for name in ("smoothgrad", "clime"):
        assert relative(cuda[name][0], ref[name][0]) < 1e-6
    w = np.array([[1.5, -2.0, 0.25]])
    lin = gl.Model._native(
        network_of([("dense", w, np.zeros(1))]), [("dense", w, np.zeros(1))], 0, None
    )
    E = gl.smoothgrad(lin, np.zeros((3, 3)), device="cuda", n_samples=64)
    np.testing.assert_array_equal(E.values, np.repeat(w.astype(np.float32), 3, 0))


@gpu
def test_lipschitz_on_the_device():
    m = network(("elu", "elu", None))
    kw = {"radius": 0.1, "n_neighbors": 5, "sigma": 0.5, "n_samples": 500}
    cpu = gl.lipschitz(m, X, "smoothgrad", **kw)
    cuda = gl.lipschitz(m, X, "smoothgrad", device="cuda", **kw)
    assert relative(cuda.values, cpu.values) < 1e-5
