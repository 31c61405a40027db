"""torch tensors as inputs: X, baselines, backgrounds and attributions on any device, with or
without autograd, are read as their numbers (_validation.host_array), and every result is the one
the same numbers as a numpy array give, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl
from gradlime._validation import host_array

torch = pytest.importorskip("torch")

W = np.array([0.5, -1.0, 2.0])


def tanh_model():
    return gl.Model(
        lambda A: np.tanh(A @ W),
        grad=lambda A: (1.0 - np.tanh(A @ W)[:, None] ** 2) * W,
    )


def tensor(rows=4, **kw):
    return torch.from_numpy(np.random.default_rng(3).normal(size=(rows, 3))).to(**kw)


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_host_array_reads_every_dtype_exactly_and_leaves_the_rest_alone():
    x = torch.tensor([1.5, -2.25, 3.0], requires_grad=True)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        out = host_array(x.to(dtype))
        assert out.dtype == np.float64  # numpy has no bfloat16: floats become float64
        same(out, [1.5, -2.25, 3.0])  # each is exact in every one of these dtypes
    ints = host_array(torch.tensor([[0, 1], [1, 2]]))
    assert ints.dtype == np.int64  # a feature mask stays integers
    assert host_array(torch.tensor([True, False])).dtype == np.bool_
    plain = np.ones(2)
    assert host_array(plain) is plain
    assert host_array([1, 2]) == [1, 2]


@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein", "lime"])
def test_a_tensor_that_requires_grad_explains_as_its_numbers(method):
    X = tensor(dtype=torch.float32).requires_grad_(True)
    numbers = X.detach().double().numpy()
    fn = getattr(gl, method)
    same(fn(tanh_model(), X, n_samples=64).values, fn(tanh_model(), numbers, n_samples=64).values)
    assert X.grad is None  # nothing of the caller's autograd is touched


def test_baselines_backgrounds_and_attributions_may_be_tensors():
    m, X = tanh_model(), tensor()
    P, base, bg = X.numpy(), torch.full((3,), 0.25), torch.zeros(5, 3, dtype=torch.float16)
    same(
        gl.integrated_gradients(m, X, baseline=base).values,
        gl.integrated_gradients(m, P, baseline=np.full(3, 0.25)).values,
    )
    same(
        gl.kernel_shap(m, X, background=bg, n_samples=30).values,
        gl.kernel_shap(m, P, background=np.zeros((5, 3)), n_samples=30).values,
    )
    phi = torch.from_numpy(np.tile(W, (4, 1)))
    same(gl.faithfulness(m, X, phi), gl.faithfulness(m, P, phi.numpy()))


def test_lipschitz_and_tradeoff_take_tensors():
    m, X = tanh_model(), tensor(3)
    P = X.numpy()
    kw = {"sigma": 0.3, "n_samples": 32, "n_neighbors": 4}
    same(gl.lipschitz(m, X, **kw).values, gl.lipschitz(m, P, **kw).values)
    a = gl.tradeoff(m, X, sigmas=[0.1, 0.3], n_neighbors=3, n_samples=16)
    b = gl.tradeoff(m, P, sigmas=[0.1, 0.3], n_neighbors=3, n_samples=16)
    same(a.lipschitz, b.lipschitz)
    same(a.faithfulness, b.faithfulness)


def test_image_tensors_come_back_in_their_shape():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(12, 2))
    m = gl.Model.from_torch(net, target=1)
    images = torch.randn(2, 2, 4, 4)
    E = gl.smoothgrad(m, images, sigma=0.2, n_samples=16)
    assert E.values.shape == (2, 2, 4, 4)
    same(E.values, gl.smoothgrad(m, images.double().numpy(), sigma=0.2, n_samples=16).values)


def test_a_complex_tensor_is_refused_by_name():
    with pytest.raises(TypeError, match="X must be real numbers; got complex"):
        gl.smoothgrad(tanh_model(), torch.ones(2, 3, dtype=torch.complex64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_explain_as_their_numbers():
    X = tensor(dtype=torch.float32, device="cuda")
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ELU(), torch.nn.Linear(8, 1))
    m = gl.Model.from_torch(net, device="cuda")
    on_gpu = gl.smoothgrad(m, X, sigma=0.2, n_samples=32).values
    same(on_gpu, gl.smoothgrad(m, X.cpu().double().numpy(), sigma=0.2, n_samples=32).values)
