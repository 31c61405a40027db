"""The torch path (Model.from_torch): the engine's draws, the module's own arithmetic.

Held to the numpy path on the same draws (a float64 module: to float64 rounding; float32: to
float32 rounding), to Captum's Saliency and IntegratedGradients, to the module itself with its
batch norms folded and after its weights change, and to the memory it may take a batch.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradlime as gl

torch = pytest.importorskip("torch")

SHAPE = (3, 8, 8)


def cnn(dtype=None, batch_norm=False):
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 4, 3, padding=1)]
    if batch_norm:
        layers.append(torch.nn.BatchNorm2d(4))
    layers += [torch.nn.ELU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 3)]
    net = torch.nn.Sequential(*layers)
    if batch_norm:
        with torch.no_grad():
            net[1].running_mean.normal_(0.0, 0.3)
            net[1].running_var.uniform_(0.5, 2.0)
            net[1].weight.uniform_(0.5, 1.5)
    return net.to(dtype or torch.float32).eval()


def by_hand(net, target):
    """The module as a plain numpy model: float64 rows in, autograd on the (m, 3, 8, 8) batch."""
    dtype = next(net.parameters()).dtype

    def f(A):
        with torch.no_grad():
            x = torch.from_numpy(A.reshape(len(A), *SHAPE)).to(dtype)
            return net(x)[:, target].double().numpy()

    def grad(A):
        x = torch.from_numpy(A.reshape(len(A), *SHAPE)).to(dtype).requires_grad_(True)
        (g,) = torch.autograd.grad(net(x)[:, target].sum(), x)
        return g.double().numpy().reshape(len(A), -1)

    return gl.Model(f, grad=grad)


def points(n=3):
    return np.random.default_rng(1).normal(size=(n, *SHAPE))


@pytest.mark.parametrize(
    ("dtype", "rtol"), [("float64", 1e-10), ("float32", 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize("method", ["smoothgrad", "clime", "stein"])
def test_from_torch_equals_the_numpy_path_on_the_same_draws(dtype, rtol, method):
    net = cnn(getattr(torch, dtype))
    X = points()
    kw = {"sigma": 0.3, "n_samples": 200, "seed": 7}
    E = getattr(gl, method)(gl.Model.from_torch(net, target=1), X, **kw)
    ref = getattr(gl, method)(by_hand(net, 1), X.reshape(len(X), -1), **kw)
    assert E.values.shape == X.shape
    assert E.stderr.shape == X.shape
    scale = np.abs(ref.values).max()
    np.testing.assert_allclose(E.values.reshape(len(X), -1), ref.values, rtol=0, atol=rtol * scale)


def test_explain_gets_values_and_gradients_from_one_forward_per_batch():
    net = cnn()
    m = gl.Model.from_torch(net, target=0, batch_size=100)
    calls = []
    net.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    X = points(2)
    both = gl.explain(m, X, methods=("smoothgrad", "clime"), sigma=0.2, n_samples=300, seed=3)
    assert sorted(calls) == [2] + [100] * 6  # 600 rows, one forward per batch; f at the points
    for name in ("smoothgrad", "clime"):
        alone = getattr(gl, name)(m, X, sigma=0.2, n_samples=300, seed=3)
        np.testing.assert_array_equal(both[name].values, alone.values)


def test_gradients_agree_with_captum():
    captum = pytest.importorskip("captum.attr")
    net = cnn()
    X = points(4).astype(np.float32)
    m = gl.Model.from_torch(net, target=2)
    inputs = torch.from_numpy(X).requires_grad_(True)
    saliency = captum.Saliency(net).attribute(inputs, target=2, abs=False).detach()
    np.testing.assert_allclose(gl.gradient(m, X).values, saliency.numpy(), rtol=1e-5, atol=1e-7)
    gxi = gl.grad_x_input(m, X).values
    np.testing.assert_allclose(gxi, saliency.numpy() * X, rtol=1e-5, atol=1e-7)
    ig = (
        captum.IntegratedGradients(net)
        .attribute(inputs, target=2, n_steps=20, method="gausslegendre")
        .detach()
    )
    E = gl.integrated_gradients(m, X, n_steps=20)
    assert E.values.shape == X.shape
    np.testing.assert_allclose(E.values, ig.numpy(), rtol=1e-4, atol=1e-6)


def test_batch_norm_is_folded_and_follows_the_weights():
    net = cnn(batch_norm=True)
    m = gl.Model.from_torch(net, target=1)
    X = points(5)
    with torch.no_grad():
        expected = net(torch.from_numpy(X).float())[:, 1].double().numpy()
    runner = m.f.__self__
    assert isinstance(runner._network(), torch.fx.GraphModule)  # the folded copy computes
    flat = X.reshape(len(X), -1)
    values = gl.smoothgrad(m, X, sigma=1e-9, n_samples=2).fx
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6)
    # An optimizer step (in place, under no_grad) changes the weights: the copy follows.
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net(torch.from_numpy(X).float())[:, 1].sum().backward()
    opt.step()
    with torch.no_grad():
        moved = net(torch.from_numpy(X).float())[:, 1].double().numpy()
    assert np.abs(moved - expected).max() > 1e-2
    grad = by_hand(net, 1).gradient(flat)
    np.testing.assert_allclose(
        gl.gradient(m, X).values.reshape(len(X), -1), grad, rtol=1e-4, atol=1e-6
    )
    assert all(p.requires_grad for p in net.parameters())  # frozen only during calls


def test_batches_are_sized_from_the_memory_autograd_saves():
    small = gl.Model.from_torch(cnn(), target=0)
    assert small._batch_rows_for(SHAPE) == 128  # the CPU's most rows a batch
    torch.manual_seed(0)
    wide = torch.nn.Sequential(
        torch.nn.Conv2d(3, 1024, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(1024 * 32 * 32, 1),
    )
    m = gl.Model.from_torch(wide)
    rows = m._batch_rows_for((3, 32, 32))
    per_row = m.f.__self__._saved_bytes((3, 32, 32))
    assert per_row >= 1024 * 32 * 32 * 4  # at least the ReLU's output
    assert rows == (256 << 20) // per_row < 128
    seen = []
    wide.register_forward_hook(lambda mod, inp, out: seen.append(len(inp[0])))
    gl.smoothgrad(m, np.zeros((2, 3, 32, 32)), sigma=0.1, n_samples=rows + 5)
    assert max(seen) == rows


def test_inputs_of_other_shapes():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    X = np.random.default_rng(0).normal(size=(3, 5))
    E = gl.smoothgrad(gl.Model.from_torch(mlp), X, sigma=0.1, n_samples=64)
    assert E.values.shape == (3, 5)
    seq = torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(3 * 4, 1)
    )
    S = np.random.default_rng(0).normal(size=(4, 2, 6))
    m = gl.Model.from_torch(seq)
    E = gl.gradient(m, S)
    x = torch.from_numpy(S).float().requires_grad_(True)
    (g,) = torch.autograd.grad(seq(x).sum(), x)
    np.testing.assert_allclose(E.values, g.numpy(), rtol=1e-5, atol=1e-7)
    L = gl.lipschitz(
        m, S[:2], method="smoothgrad", radius=0.1, n_neighbors=3, sigma=0.2, n_samples=32
    )
    assert L.values.shape == (2,)
    assert np.all(np.isfinite(L.values))


def test_errors_and_devices():
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        gl.Model.from_torch(lambda x: x)
    with pytest.raises(ValueError, match="device"):
        gl.Model.from_torch(cnn(), device="not a device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            gl.Model.from_torch(cnn(), device="cuda")
    m = gl.Model.from_torch(cnn(), device="cpu", target=0)
    assert m.engine == "torch"
    net = cnn()
    m = gl.Model.from_torch(net, target=0)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        gl.gradient(m, np.zeros((2, 3, 9, 9)))  # the module's own error, for a wrong shape
    assert all(p.requires_grad for p in net.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_module_equals_the_cpu_one():
    net = cnn()
    X = points()
    cpu = gl.smoothgrad(gl.Model.from_torch(net, target=1), X, sigma=0.3, n_samples=100)
    gpu = gl.smoothgrad(
        gl.Model.from_torch(cnn(), target=1, device="cuda"), X, sigma=0.3, n_samples=100
    )
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-4, atol=1e-6)
