"""Every bad input gets a clear error; nothing crashes the interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradlime as gl
from conftest import linear_model

X = np.zeros((3, 2))
lin = linear_model([1.0, 2.0])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([[0.0, np.nan]]), r"NaN or inf \(first at point 0, feature 1\)"),
        (np.array([0.0, np.inf]), r"NaN or inf \(first at feature 1\)"),
        # (N, ...) points reach the model in their own shape: here one it cannot take
        (np.zeros((2, 2, 2)), r"model f returned shape \(\d+, 2\)"),
        (np.zeros((0, 2)), "at least one point"),
        (np.zeros(0), "at least one point"),
    ],
)
def test_bad_points(bad, match):
    with pytest.raises(ValueError, match=match):
        gl.clime(lin, bad)


def test_non_numeric_points():
    with pytest.raises(TypeError, match="X must be an array of numbers"):
        gl.clime(lin, [["a", "b"]])


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan, np.inf, [1.0, 0.0]])
def test_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        gl.stein(lin, X, sigma=sigma)


def test_sigma_of_wrong_length():
    with pytest.raises(ValueError, match=r"sigma must be a scalar or have shape \(2,\)"):
        gl.stein(lin, X, sigma=[1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("cov", "match"),
    [
        ([[1.0, 0.5], [0.0, 1.0]], "not symmetric"),
        ([[1.0, 2.0], [2.0, 1.0]], "symmetric positive definite"),
        ([[1.0, 0.0], [0.0, 0.0]], "symmetric positive definite"),
        (np.eye(3), r"cov must have shape \(2, 2\)"),
        ([[1.0, np.nan], [np.nan, 1.0]], "NaN or inf"),
    ],
)
def test_bad_covariance(cov, match):
    with pytest.raises(ValueError, match=match):
        gl.stein(lin, X, cov=cov)


@pytest.mark.parametrize(
    ("n", "exc"), [(1, ValueError), (0, ValueError), (10.0, TypeError), (True, TypeError)]
)
def test_bad_n_samples(n, exc):
    with pytest.raises(exc, match="n_samples"):
        gl.smoothgrad(lin, X, n_samples=n)


def test_too_few_samples_for_a_regression():
    with pytest.raises(ValueError, match=r"clime needs n_samples >= d \+ 2 = 12"):
        gl.clime(lambda A: A[:, 0], np.zeros(10), n_samples=11)
    gl.clime(lambda A: A[:, 0], np.zeros(10), n_samples=12)  # the smallest that works


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**64}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"ridge": -0.1}, ValueError, "ridge"),
        ({"ridge": np.nan}, ValueError, "ridge"),
    ],
)
def test_bad_options(kw, exc, match):
    with pytest.raises(exc, match=match):
        gl.clime(lin, X, **kw)


def test_unknown_method():
    with pytest.raises(ValueError, match="methods must be a non-empty subset"):
        gl.explain(lin, X, methods=("smoothgrad", "lime"))
    with pytest.raises(ValueError, match="methods must be a non-empty subset"):
        gl.explain(lin, X, methods=())


def test_not_a_model():
    with pytest.raises(TypeError, match=r"model must be a gradlime\.Model or a callable"):
        gl.clime(42, X)
    with pytest.raises(TypeError, match="f must be callable"):
        gl.Model("f")
    with pytest.raises(TypeError, match="grad must be callable"):
        gl.Model(np.sin, grad=3)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        gl.Model(np.sin, batch_size=0)


def test_smoothgrad_without_gradient_says_what_to_do():
    with pytest.raises(ValueError, match=r"pass grad= .*clime / gl.stein"):
        gl.smoothgrad(lambda A: A[:, 0], X)
    with pytest.raises(ValueError, match=r"grad="):
        gl.explain(lambda A: A[:, 0], X)


@pytest.mark.parametrize(
    ("f", "match"),
    [
        (
            lambda A: A,
            r"model f returned shape \(\d+, 2\) for a batch of \d+ rows; expected \(\d+,\)",
        ),
        (lambda A: A[:-1, 0], r"model f returned shape \(\d+,\) for a batch"),
        (lambda A: 3.0, r"model f returned shape \(\)"),
    ],
)
def test_model_returning_the_wrong_shape(f, match):
    with pytest.raises(ValueError, match=match):
        gl.clime(f, X)


def test_model_returning_something_else():
    with pytest.raises(TypeError, match="model f must return an array of floats"):
        gl.stein(lambda A: ["x"] * len(A), X)


def test_gradient_of_the_wrong_shape():
    model = gl.Model(lambda A: A[:, 0], grad=lambda A: A[:, :1])
    with pytest.raises(
        ValueError, match=r"model grad returned shape \(\d+, 1\) .* expected \(\d+, 2\)"
    ):
        gl.smoothgrad(model, X)


def test_nan_from_the_model_names_the_point():
    x = np.zeros((5, 2))
    x[3, 0] = 100.0  # only perturbations of point 3 go far enough out

    def f(A):
        return np.where(A[:, 0] > 50, np.nan, A[:, 1])

    with pytest.raises(ValueError, match=r"non-finite value at point 3 \(perturbation sample 0\)"):
        gl.clime(f, x, sigma=0.1, n_samples=20, seed=1)


def test_inf_gradient_names_the_point():
    x = np.zeros((4, 2))
    x[2, 1] = 100.0
    model = gl.Model(lambda A: A[:, 0], grad=lambda A: np.where(A > 50, np.inf, 1.0))
    with pytest.raises(ValueError, match=r"non-finite gradient at point 2"):
        gl.smoothgrad(model, x, sigma=0.1, n_samples=20)


def test_exception_in_the_callable_propagates_unchanged():
    class Boom(RuntimeError):
        pass

    err = Boom("inside the model")

    def f(A):
        raise err

    with pytest.raises(Boom) as info:
        gl.stein(f, X)
    assert info.value is err
    assert any(entry.name == "f" for entry in info.traceback)  # raised where it was raised


def test_exception_on_a_later_batch_then_a_clean_call():
    calls = []

    def f(A):
        calls.append(len(A))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return A[:, 0]

    with pytest.raises(KeyboardInterrupt):
        gl.stein(gl.Model(f, batch_size=10), X, n_samples=20)
    assert len(calls) == 3
    assert gl.stein(lambda A: A[:, 0], X, n_samples=20).values.shape == (3, 2)


def test_ctrl_c_stops_a_long_call():
    script = textwrap.dedent("""
        import sys, numpy as np, gradlime as gl
        calls = 0
        def f(A):
            global calls
            calls += 1
            if calls == 2:
                print("running", flush=True)
            return np.tanh(A).sum(axis=1)
        try:
            gl.clime(gl.Model(f, batch_size=1000), np.zeros((10**6, 4)), n_samples=1000)
        except KeyboardInterrupt:
            print("interrupted after", calls, "calls", flush=True)
            sys.exit(3)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "running"
    proc.send_signal(__import__("signal").SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "interrupted after" in out


# ---------------------------------------------------------------------- counts and dtypes (issue 10)

_F = lambda A: A.sum(axis=1)
_G = gl.Model(_F, grad=lambda A: np.ones_like(A))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda n: gl.clime(_F, np.zeros(3), n_samples=n), "n_samples"),
        (lambda n: gl.lime(_F, np.zeros(3), n_samples=n), "n_samples"),
        (lambda n: gl.kernel_shap(_F, np.zeros(12), n_samples=n), "n_samples"),
        (lambda n: gl.lipschitz(_G, np.zeros(3), n_neighbors=n), "n_neighbors"),
        (lambda n: gl.Model(_F, batch_size=n), "batch_size"),
        (lambda n: gl.integrated_gradients(_G, np.zeros(3), n_steps=n), "n_steps"),
        (lambda n: gl.smoothed(_F, n_samples=n), "n_samples"),
    ],
)
def test_counts_past_64_bits_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=rf"{name} must be < 2\*\*63; got {2**63}"):
        call(2**63)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"X": np.zeros(3) + 1j}, "X must be real numbers; got complex values"),
        (
            {"X": np.array(["2020-01-01"] * 3, dtype="datetime64[D]")},
            "X must be real numbers; got datetime",
        ),
        ({"sigma": 1j}, "sigma must be real numbers; got complex"),
        ({"cov": np.eye(3) * (1 + 1j)}, "cov must be real numbers; got complex"),
    ],
)
def test_what_float64_would_reinterpret_is_refused(kw, match):
    args = {"X": np.zeros(3), **kw}
    with pytest.raises(TypeError, match=match):
        gl.stein(_F, args.pop("X"), **args)


def test_baselines_and_methods_name_the_parameter():
    with pytest.raises(TypeError, match="baseline must be real numbers; got complex"):
        gl.lime(_F, np.zeros(3), baseline=np.zeros(3) + 1j)
    with pytest.raises(TypeError, match="baseline must be real numbers; got complex"):
        gl.integrated_gradients(_G, np.zeros(3), baseline=1j)
    with pytest.raises(TypeError, match="methods must be method names from"):
        gl.explain(_G, np.zeros(3), methods=None)


def test_smoothed_callable_takes_a_scale_per_feature():
    w = np.array([1.0, -2.0, 0.5])
    soft = gl.smoothed(lambda A: A @ w, scale=[0.1, 0.2, 0.3], n_samples=4000)
    X = np.array([[1.0, 2.0, 3.0]])
    assert abs(soft(X)[0] - X[0] @ w) < 0.05  # a linear f is unchanged by zero-mean smoothing
    with pytest.raises(ValueError, match=r"scale must be a scalar or have shape \(2,\)"):
        soft(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"cov must be a \(d, d\) matrix; got shape \(\)"):
        gl.smoothed(lambda A: A[:, 0], cov=0.5)


@pytest.mark.parametrize("method", [gl.gradient, gl.grad_x_input, gl.integrated_gradients])
def test_path_methods_check_what_the_callable_returns(method):
    short = gl.Model(lambda A: A.sum(axis=1), grad=lambda A: np.full((len(A) - 1, 5), 1.0))
    with pytest.raises(ValueError, match=r"model grad returned shape \(\d+, 5\) for a batch of"):
        method(short, np.ones((3, 3)))
    nan = gl.Model(lambda A: A.sum(axis=1), grad=lambda A: np.full(A.shape, np.nan))
    with pytest.raises(ValueError, match="model grad returned a non-finite gradient at row 0"):
        method(nan, np.ones((3, 3)))
    three = gl.Model(lambda A: A[:, :3].sum(axis=1), grad=lambda A: np.ones((len(A), 3)))
    with pytest.raises(ValueError, match=r"expected \(\d+, 4\)"):  # a 3-feature model at 4 features
        method(three, np.ones((2, 4)))


def test_a_column_of_values_is_a_vector():
    m = gl.Model(lambda A: A.sum(axis=1, keepdims=True), grad=lambda A: np.ones_like(A))
    assert m(np.ones((4, 2))).shape == (4,)
    E = gl.integrated_gradients(m, np.ones((3, 2)))
    assert E.fx.shape == (3,)
    assert np.shape(E.params["completeness_gap"]) == (3,)


@pytest.mark.parametrize(("method", "sigma"), [(gl.clime, 1e155), (gl.stein, 1e-310)])
def test_estimates_that_overflow_float64_say_so(method, sigma):
    with pytest.raises(
        ValueError, match=r"estimate at point 0 is not finite .* sigma is too large"
    ):
        method(_G, np.zeros((1, 3)), sigma=sigma, n_samples=50)


def test_from_torch_says_what_it_needs():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"Model\.from_torch needs torch"):
            gl.Model.from_torch(None)
        return
    with pytest.raises(TypeError, match=r"needs a torch\.nn\.Module; got NoneType"):
        gl.Model.from_torch(None)


def test_smoothed_names_an_empty_output():
    soft = gl.smoothed(lambda A: np.zeros(0), n_samples=5)
    with pytest.raises(ValueError, match=r"model f returned shape \(0,\) for a batch of 10 rows"):
        soft(np.zeros((2, 3)))


@pytest.mark.parametrize("where", ["f", "grad"])
def test_complex_model_outputs_are_refused(where):
    f = (lambda A: A.sum(axis=1) + 0j) if where == "f" else (lambda A: A.sum(axis=1))
    grad = (lambda A: np.ones_like(A) + 0j) if where == "grad" else (lambda A: np.ones_like(A))
    m = gl.Model(f, grad=grad)
    method = gl.clime if where == "f" else gl.smoothgrad
    with pytest.raises(TypeError, match=f"model {where} must return real numbers; got complex"):
        method(m, np.zeros((2, 3)), n_samples=20)
    with pytest.raises(
        TypeError, match=f"model {where}'s output must be real numbers; got complex"
    ):
        (m if where == "f" else m.gradient)(np.zeros((2, 3)))


# --------------------------------------------------------------------------------------------
# Memory a single point needs, refused before any work (issue 10, item 11)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda f, x: gl.clime(f, x, n_samples=x.size + 2), "clime"),
        (lambda f, x: gl.lime(f, x, n_samples=100), "lime"),
        (lambda f, x: gl.kernel_shap(f, x, n_samples=10**5), "kernel_shap"),
    ],
    ids=["clime", "lime", "kernel_shap"],
)
def test_a_d_by_d_fit_that_cannot_fit_in_memory_is_refused_at_once(call, method):
    """d = 10^5: the fit's d x d sums need terabytes; refused before a single model call."""
    from gradlime._validation import physical_memory

    if (physical_memory() or 0) > 2**42:
        pytest.skip("this machine has more than 4 TiB")
    calls = []

    def f(A):
        calls.append(len(A))
        return A.sum(axis=1)

    with pytest.raises(MemoryError, match=rf"{method} at d = 100000 features and n_samples"):
        call(f, np.zeros(10**5))
    assert calls == []


def test_the_memory_refusal_is_a_value_error_sized_by_the_arguments(monkeypatch):
    import gradlime._validation as v

    monkeypatch.setattr(v, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    f = lambda A: A.sum(axis=1)
    gl.clime(f, np.zeros(10), n_samples=12)  # 8 * 11^2 * 8 bytes: fits
    with pytest.raises(ValueError, match=r"needs about 0.00\d+ GiB per point .* has 0.000977 GiB"):
        gl.clime(f, np.zeros(200), n_samples=202)  # 8 * 201^2 * 8 bytes: does not
    with pytest.raises(ValueError, match=r"stein at d = 1 features and n_samples = 200000"):
        gl.stein(f, np.zeros(1), n_samples=200_000)  # 8 bytes a sample
