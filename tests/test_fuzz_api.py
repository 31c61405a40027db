"""Property-based fuzzing of the public API: every call on arbitrary inputs either returns a
well-formed result or raises a ValueError or TypeError (the model's own exception passes through
as it is). Anything else (IndexError, KeyError, OverflowError, pybind's "incompatible function
arguments", a NaN where a number was promised, a crash of the interpreter) is a bug.

The normal suite runs a fixed (derandomized) set of cases; ``pytest --fuzz-long`` runs twenty times
as many, freshly drawn.
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradlime as gl
from conftest import fuzz_settings


class ModelFailure(Exception):
    """What a fuzzed model raises on purpose: it must reach the caller unchanged."""


CLEAR = (ValueError, TypeError, ModelFailure)

# --- models ------------------------------------------------------------------------------------


def _f(A):
    return np.sin(A).sum(axis=1) + 0.5 * A.sum(axis=1)


def _grad(A):
    return np.cos(A) + 0.5


def _bad_output(kind):
    """A callable whose output is wrong in one way."""

    def f(A):
        n = len(A)
        if kind == "short":
            return np.zeros(max(n - 1, 0))
        if kind == "wide":
            return np.zeros((n, 2))
        if kind == "nan":
            return np.full(n, np.nan)
        if kind == "inf":
            return np.full(n, np.inf)
        if kind == "complex":
            return np.zeros(n, dtype=complex)
        if kind == "text":
            return np.array(["a"] * n)
        if kind == "none":
            return None
        if kind == "scalar":
            return 1.0
        if kind == "raises":
            raise ModelFailure("the model failed")
        raise AssertionError(kind)

    return f


def _models():
    good = st.sampled_from(
        [
            ("callable", _f),
            ("model+grad", gl.Model(_f, grad=_grad)),
            ("model", gl.Model(_f)),
            ("batched", gl.Model(_f, grad=_grad, batch_size=3)),
        ]
    )
    kinds = ["short", "wide", "nan", "inf", "complex", "text", "none", "scalar", "raises"]
    bad = st.sampled_from(kinds).flatmap(
        lambda k: st.sampled_from(
            [
                (f"f:{k}", _bad_output(k)),
                (f"grad:{k}", gl.Model(_f, grad=_bad_output(k))),
            ]
        )
    )
    junk = st.sampled_from([("None", None), ("int", 3), ("str", "model"), ("list", [1, 2])])
    return st.one_of(good, good, bad, junk)


# --- inputs ------------------------------------------------------------------------------------

_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
_finite = st.floats(-5.0, 5.0, allow_nan=False)


def _arrays(max_dims=3, max_side=4, elements=_finite):
    dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128])
    return dtypes.flatmap(
        lambda dt: hnp.arrays(
            dt,
            hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side),
            elements=elements if dt is np.float64 else None,
        )
    )


def _points():
    good = hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)), elements=_finite)
    odd = st.one_of(
        _arrays(),
        _arrays(elements=_floats),
        st.sampled_from([None, "x", [[1.0, 2.0], [3.0]], [], [[]], np.array(["1", "2"]), object()]),
        st.just(np.array(["2020-01-01"], dtype="datetime64[D]")),
    )
    return st.one_of(good, good, odd)


_counts = st.one_of(
    st.integers(-2, 40),
    st.sampled_from([2**63, 2**64 + 1, -(2**63)]),  # valid but huge counts only run long
    st.sampled_from([2.0, 2.5, float("nan"), float("inf"), "10", None, True, 1j, np.int64(5)]),
)
_scales = st.one_of(
    _floats,
    st.integers(-2, 3),
    st.lists(_floats, min_size=0, max_size=5),
    st.sampled_from([None, "1", 1j, [1.0, 1j], np.array([[1.0]]), True]),
)
_labels = st.fixed_dictionaries(
    {},
    optional={
        "feature_names": st.one_of(
            st.none(),
            st.lists(st.text(max_size=3), max_size=5),
            st.sampled_from(["abc", [1, 2, 3], ("a", None)]),
        ),
        "progress": st.sampled_from([None, False, "yes", 1, lambda done, total: None]),
    },
)
_schemes = st.fixed_dictionaries(
    {},
    optional={
        "antithetic": st.sampled_from([False, True, "yes", 1, None]),
        "qmc": st.sampled_from([False, True, 2, 3, 8, 64, "yes", None, 1.5, np.int64(4)]),
        "tol": st.one_of(st.none(), _floats, st.sampled_from(["0.1", 1j, 1e-300])),
        "max_samples": st.one_of(st.none(), st.integers(-2, 300), st.sampled_from([2**63, 2.5])),
    },
)
_seeds = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([None, 1.5, "0", np.uint64(7), True]),
)


# --- calls -------------------------------------------------------------------------------------


def _call(data, name):
    """Draws the arguments of `name` and calls it."""
    model = data.draw(_models(), label="model")[1]
    X = data.draw(_points(), label="X")
    n = data.draw(_counts, label="n_samples")
    seed = data.draw(_seeds, label="seed")
    scale = data.draw(_scales, label="scale")
    if name in ("smoothgrad", "clime", "stein"):
        cov = data.draw(st.one_of(st.none(), _arrays(max_dims=2)), label="cov")
        labels = data.draw(_labels, label="feature_names / progress")
        scheme = data.draw(_schemes, label="antithetic / tol / max_samples")
        if name == "clime":
            scheme.pop("tol", None)
            scheme.pop("max_samples", None)
        return getattr(gl, name)(
            model, X, sigma=scale, cov=cov, n_samples=n, seed=seed, **labels, **scheme
        )
    if name == "explain":
        methods = data.draw(
            st.one_of(
                st.lists(
                    st.sampled_from(["smoothgrad", "clime", "stein", "lime", "x"]), max_size=3
                ),
                st.sampled_from([None, "clime", 3]),
            ),
            label="methods",
        )
        return gl.explain(model, X, methods, sigma=scale, n_samples=n, seed=seed)
    if name == "unigrad":
        qmc = data.draw(st.sampled_from([False, True, 2, 5]), label="qmc")
        return gl.unigrad(model, X, radius=scale, n_samples=n, qmc=qmc, seed=seed)
    if name == "lime":
        width = data.draw(st.one_of(st.none(), _floats), label="kernel_width")
        ridge = data.draw(_scales, label="ridge")
        base = data.draw(st.one_of(st.just(0.0), _arrays(max_dims=2)), label="baseline")
        return gl.lime(
            model, X, n_samples=n, baseline=base, kernel_width=width, ridge=ridge, seed=seed
        )
    if name == "kernel_shap":
        base = data.draw(st.one_of(st.just(0.0), _arrays(max_dims=2)), label="baseline")
        estimator = data.draw(
            st.sampled_from(["regression", "kernel", "leverage", None]), label="estimator"
        )
        scheme = data.draw(_schemes, label="tol / max_samples")
        scheme.pop("antithetic", None)
        scheme.pop("qmc", None)
        return gl.kernel_shap(
            model, X, baseline=base, n_samples=n, estimator=estimator, seed=seed, **scheme
        )
    if name in ("gradient", "grad_x_input"):
        return getattr(gl, name)(model, X)
    if name == "integrated_gradients":
        base = data.draw(st.one_of(st.just(0.0), _arrays(max_dims=2)), label="baseline")
        rule = data.draw(st.sampled_from(["gauss_legendre", "riemann_trapezoid", "simpson"]))
        return gl.integrated_gradients(model, X, baseline=base, n_steps=n, rule=rule)
    if name == "smoothed":
        kernel = data.draw(st.sampled_from(["gaussian", "uniform", "laplace", "box"]))
        smooth = gl.smoothed(model, kernel=kernel, scale=scale, n_samples=n, seed=seed)
        return smooth(X)
    if name == "lipschitz":
        method = data.draw(st.sampled_from(["smoothgrad", "clime", "gradient", "lime", "nope"]))
        k = data.draw(_counts, label="n_neighbors")
        return gl.lipschitz(model, X, method, radius=scale, n_neighbors=k, seed=seed, n_samples=n)
    if name == "faithfulness":
        attributions = data.draw(st.one_of(_points(), _arrays()), label="attributions")
        similarity = data.draw(st.sampled_from(["inverse_l2", "cosine", "nope"]))
        return gl.faithfulness(model, X, attributions, reference=scale, similarity=similarity)
    raise AssertionError(name)


def _check_result(name, result):
    """What came back is well formed: finite numbers where numbers were promised."""
    if isinstance(result, dict):
        for E in result.values():
            _check_result(name, E)
        return
    if isinstance(result, gl.Explanation):
        assert np.isfinite(result.values).all(), name
        assert result.stderr.shape == result.values.shape, name
        return
    arr = np.asarray(getattr(result, "values", result))
    assert arr.dtype.kind == "f", (name, arr.dtype)


NAMES = [
    "smoothgrad",
    "clime",
    "stein",
    "explain",
    "unigrad",
    "lime",
    "kernel_shap",
    "gradient",
    "grad_x_input",
    "integrated_gradients",
    "smoothed",
    "lipschitz",
    "faithfulness",
]


@pytest.mark.parametrize("name", NAMES)
@fuzz_settings(max_examples=90)
@given(data=st.data())
def test_any_input_gives_a_result_or_a_clear_error(name, data):
    try:
        result = _call(data, name)
    except CLEAR:
        return
    _check_result(name, result)


def test_a_model_called_on_complex_points_says_so():
    """Found by the fuzz suite: a complex batch reached float64 with only a ComplexWarning."""
    with pytest.raises(TypeError, match="a batch must be real numbers; got complex"):
        gl.smoothed(_f, n_samples=2)(np.zeros((1, 2), dtype=complex))
    with pytest.raises(TypeError, match="a batch must be real numbers"):
        gl.Model(_f)(np.zeros((3, 2), dtype=complex))
