"""Names in, names out: DataFrames and Series as inputs of every method, their names and index on
the Explanation; selection by point and by name; to_pandas, save and load; shap's Explanation."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import gradlime as gl
from gradlime.registry import REGISTRY

W = np.array([1.5, -2.0, 0.5])
NAMES = ["age", "income", "score"]


def model():
    return gl.Model(
        lambda A: np.tanh(A @ W) + 0.3, grad=lambda A: (1 - np.tanh(A @ W) ** 2)[:, None] * W
    )


def frame():
    X = np.array([[0.2, -0.4, 1.0], [1.1, 0.3, -0.7]])
    return pd.DataFrame(X, columns=NAMES, index=pd.Index(["ann", "bob"], name="who"))


KW = {
    name: ({"n_samples": 40} if "n_samples" in s.keywords else {}) for name, s in REGISTRY.items()
}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_dataframe_gives_names_index_and_the_same_numbers(name):
    fn, df = REGISTRY[name].function, frame()
    E = fn(model(), df, **KW[name])
    plain = fn(model(), df.to_numpy(), **KW[name])
    assert E.feature_names == tuple(NAMES)
    assert E.index.equals(df.index)
    np.testing.assert_array_equal(E.data, df.to_numpy())
    np.testing.assert_array_equal(E.values, plain.values)  # the same bits
    np.testing.assert_array_equal(E.stderr, plain.stderr)
    np.testing.assert_allclose(E.base_values + E.values.sum(-1), E.fx, rtol=1e-12, atol=1e-12)
    assert plain.feature_names is None
    assert plain.index is None


@pytest.mark.parametrize("name", ["clime", "kernel_shap", "integrated_gradients"])
def test_a_series_is_one_point_named_by_its_index(name):
    s = frame().iloc[0]
    E = REGISTRY[name].function(model(), s, **KW[name])
    assert E.values.shape == (3,)
    assert E.feature_names == tuple(NAMES)
    assert np.ndim(E.fx) == 0


def test_feature_names_keyword_and_its_checks():
    X = frame().to_numpy()
    E = gl.smoothgrad(model(), X, n_samples=10, feature_names=["a", "b", "c"])
    assert E.feature_names == ("a", "b", "c")
    with pytest.raises(ValueError, match="feature_names has 2 names for 3 features"):
        gl.smoothgrad(model(), X, n_samples=10, feature_names=["a", "b"])
    with pytest.raises(TypeError, match="feature_names must be a sequence of strings"):
        gl.smoothgrad(model(), X, n_samples=10, feature_names="abc")


def test_a_text_column_is_named_in_the_error():
    df = frame().assign(city=["x", "y"])
    with pytest.raises(TypeError, match="X's column 'city' holds"):
        gl.clime(model(), df, n_samples=10)


def test_baselines_and_backgrounds_as_frames():
    df = frame()
    background = pd.DataFrame(np.zeros((4, 3)), columns=NAMES)
    E = gl.kernel_shap(model(), df, baseline=background)
    np.testing.assert_array_equal(E.values, gl.kernel_shap(model(), df, baseline=0.0).values)
    ig = gl.integrated_gradients(model(), df, baseline=df.iloc[1])
    np.testing.assert_allclose(ig.values[1], 0.0, atol=1e-15)  # x = baseline


def test_samples_per_point():
    df = frame()
    assert list(gl.clime(model(), df, n_samples=40).samples_per_point) == [40, 40]
    assert list(gl.lime(model(), df, n_samples=40).samples_per_point) == [40, 40]
    assert gl.integrated_gradients(model(), df.iloc[0], n_steps=7).samples_per_point == 7
    assert (
        gl.integrated_gradients(
            model(), df.iloc[0], n_steps=7, rule="riemann_trapezoid"
        ).samples_per_point
        == 8
    )


def test_selection_by_point_and_by_name():
    E = gl.kernel_shap(model(), frame())
    one = E[1]
    np.testing.assert_array_equal(one.values, E.values[1])
    assert one.index == "bob"
    assert one.fx == E.fx[1]
    np.testing.assert_array_equal(E["income"], E.values[:, 1])
    part = E[:, ["score", "age"]]
    assert part.feature_names == ("score", "age")
    np.testing.assert_array_equal(part.values, E.values[:, [2, 0]])
    np.testing.assert_array_equal(E[0, "age"].values, E.values[0, :1])
    with pytest.raises(KeyError, match="no feature named 'height'"):
        E["height"]


def test_to_pandas():
    E = gl.clime(model(), frame(), n_samples=40)
    df = E.to_pandas()
    assert list(df.columns[:2]) == ["age", "age stderr"]
    assert list(df.columns[-2:]) == ["fx", "base_value"]
    assert df.index.equals(frame().index)
    np.testing.assert_array_equal(df["income"], E.values[:, 1])
    np.testing.assert_array_equal(df["income stderr"], E.stderr[:, 1])
    assert list(E.to_pandas(stderr=False).columns) == [*NAMES, "fx", "base_value"]
    plain = gl.clime(model(), frame().to_numpy(), n_samples=40).to_pandas()
    assert list(plain.columns[:3]) == ["x0", "x0 stderr", "x1"]


@pytest.mark.parametrize("name", ["clime", "kernel_shap", "integrated_gradients"])
def test_save_and_load_give_back_every_field(tmp_path, name):
    E = REGISTRY[name].function(model(), frame(), **KW[name])
    path = tmp_path / "e.npz"
    E.save(path)
    F = gl.Explanation.load(path)
    for field in ("values", "stderr", "data", "fx", "base_values", "samples_per_point"):
        np.testing.assert_array_equal(getattr(F, field), getattr(E, field))
    assert (F.method, F.n_samples, F.feature_names) == (E.method, E.n_samples, E.feature_names)
    assert F.index.equals(E.index)
    assert F.index.name == "who"
    assert F.params.keys() == E.params.keys()
    for k, v in E.params.items():
        np.testing.assert_array_equal(F.params[k], v)


def test_loading_something_else_is_a_clear_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.array('{"format": "other"}'))
    with pytest.raises(ValueError, match="is not an Explanation saved by gradlime"):
        gl.Explanation.load(path)


def test_a_pipeline_fitted_on_a_dataframe_sees_dataframes():
    """The suite turns warnings into errors: scikit-learn's "X does not have valid feature
    names" would fail this test."""
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=NAMES)
    y = (X["age"] - X["income"] > 0).astype(int)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    m = gl.Model.from_sklearn(pipe, target=1)
    assert m.n_features == 3
    E = gl.kernel_shap(m, X.iloc[:3], n_samples=64)
    assert E.feature_names == tuple(NAMES)
    assert m.engine == "native"  # the pipeline runs natively: no DataFrame is built at all
    np.testing.assert_allclose(E.fx, pipe.predict_proba(X.iloc[:3])[:, 1], rtol=1e-6)
    py = gl.Model.from_sklearn(pipe, target=1, engine="python")  # called with DataFrames
    np.testing.assert_allclose(py(X.iloc[:3].to_numpy()), pipe.predict_proba(X.iloc[:3])[:, 1])


def test_to_shap_renders_shaps_plots():
    shap = pytest.importorskip("shap")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    E = gl.kernel_shap(model(), frame())
    S = E.to_shap()
    np.testing.assert_array_equal(S.values, E.values)
    np.testing.assert_array_equal(S.error_std, E.stderr)
    assert list(S.feature_names) == NAMES
    for plot in (
        lambda: shap.plots.waterfall(S[0], show=False),
        lambda: shap.plots.beeswarm(S, show=False),
        lambda: shap.plots.bar(S, show=False),
    ):
        plot()
        plt.close("all")


def test_background_is_shaps_name_for_the_baseline():
    background = np.random.default_rng(3).normal(size=(5, 3))
    by_name = gl.kernel_shap(model(), frame(), background=background)
    np.testing.assert_array_equal(
        by_name.values, gl.kernel_shap(model(), frame(), baseline=background).values
    )
    with pytest.raises(TypeError, match="not both"):
        gl.kernel_shap(model(), frame(), baseline=background, background=background)


def test_explain_names_every_estimator():
    out = gl.explain(model(), frame(), n_samples=40)
    for E in out.values():
        assert E.feature_names == tuple(NAMES)
        assert E.index.equals(frame().index)
        np.testing.assert_allclose(E.base_values + E.values.sum(-1), E.fx, rtol=1e-12)
