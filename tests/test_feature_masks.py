"""KernelSHAP with feature_mask: the Shapley values of the groups (against a brute-force sum
over every coalition of groups), split evenly over each group's features; efficiency over the
groups; exact for a model additive over groups in the sampled mode; image-shaped masks.
Faithfulness with feature_mask: the definition computed group by group by hand, singleton groups
the per-feature metric bit for bit, a linear model's gradient exactly faithful."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import gradlime as gl


def f(A):
    return np.sin(A[:, 0] + A[:, 1]) * A[:, 2] + A[:, 3] ** 2 + A[:, 4] * A[:, 5]


def group_shapley(f, x, background, mask):
    """phi_g = sum_{S not containing g} |S|! (G - |S| - 1)! / G! (v(S + g) - v(S)) over groups."""
    labels = np.unique(mask)
    G = len(labels)
    v = {}
    for bits in itertools.product([0, 1], repeat=G):
        keep = np.isin(mask, labels[np.array(bits, dtype=bool)])
        v[bits] = f(np.where(keep, x, background)).mean()
    phi = np.zeros(G)
    for bits, value in v.items():
        s = sum(bits)
        for g in range(G):
            if bits[g]:
                continue
            with_g = (*bits[:g], 1, *bits[g + 1 :])
            phi[g] += (
                math.factorial(s)
                * math.factorial(G - s - 1)
                / math.factorial(G)
                * (v[with_g] - value)
            )
    return labels, phi


def test_group_values_are_the_groups_shapley_values_split_over_their_features():
    rng = np.random.default_rng(0)
    X, bg = rng.normal(size=(3, 6)), rng.normal(size=(4, 6))
    mask = np.array([7, 7, 1, 2, 5, 5])
    E = gl.kernel_shap(f, X, baseline=bg, feature_mask=mask)
    assert E.params["exact"]
    assert E.params["feature_groups"] == 4
    for i, x in enumerate(X):
        labels, phi = group_shapley(f, x, bg, mask)
        for label, value in zip(labels, phi, strict=True):
            members = mask == label
            np.testing.assert_allclose(
                E.values[i, members], value / members.sum(), rtol=1e-10, atol=1e-12
            )
    np.testing.assert_allclose(E.values.sum(axis=1), E.fx - E.base_values, rtol=1e-12, atol=1e-12)


def test_sampled_groups_keep_efficiency_and_an_additive_model_exactly():
    """24 features in 12 groups (sampled: more than 10 groups); a model additive over groups has
    exact Shapley values, which any design recovers."""
    rng = np.random.default_rng(1)
    mask = np.repeat(np.arange(12), 2)
    w = rng.normal(size=24)
    additive = lambda A: np.tanh((A * w).reshape(len(A), 12, 2).sum(axis=2)).sum(axis=1)
    X, bg = rng.normal(size=(2, 24)), rng.normal(size=(3, 24))
    E = gl.kernel_shap(additive, X, baseline=bg, feature_mask=mask, n_samples=200, seed=3)
    assert not E.params["exact"]
    for i, x in enumerate(X):
        _, phi = group_shapley(additive, x, bg, mask)
        np.testing.assert_allclose(
            E.values[i].reshape(12, 2).sum(axis=1), phi, rtol=1e-8, atol=1e-10
        )
    nonadditive = gl.kernel_shap(
        lambda A: np.sin(A).prod(axis=1), X, baseline=bg, feature_mask=mask, n_samples=200
    )
    gap = nonadditive.values.sum(axis=1) - (nonadditive.fx - nonadditive.base_values)
    assert np.all(np.abs(gap) < 1e-12)


def test_image_shaped_masks_and_a_single_point():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(2, 4, 4))
    img = lambda A: np.tanh((A * W).sum(axis=(1, 2, 3)))
    X = rng.normal(size=(2, 2, 4, 4))
    mask = np.broadcast_to(
        (np.arange(4)[:, None] // 2) * 2 + np.arange(4)[None, :] // 2, (2, 4, 4)
    )  # 2x2 patches
    E = gl.kernel_shap(img, X, baseline=0.0, feature_mask=np.ascontiguousarray(mask))
    assert E.values.shape == X.shape
    assert E.params["feature_groups"] == 4
    np.testing.assert_allclose(
        E.values.sum(axis=(1, 2, 3)), E.fx - E.base_values, rtol=1e-10, atol=1e-12
    )
    one = gl.kernel_shap(f, np.ones(6), feature_mask=[0, 0, 1, 1, 2, 2])
    assert one.values.shape == (6,)
    assert np.isscalar(one.fx)


def test_bad_masks():
    with pytest.raises(ValueError, match="feature_mask must label each of the 6 features"):
        gl.kernel_shap(f, np.ones((1, 6)), feature_mask=[0, 1])
    with pytest.raises(TypeError, match="integer group labels"):
        gl.kernel_shap(f, np.ones((1, 6)), feature_mask=np.ones(6) * 0.5)


def test_lime_groups():
    """A linear model with ridge 0: each group's coefficient is the group's w . (x - baseline),
    split over its features; singleton groups are plain LIME (the same masks and distance)."""
    w = np.array([2.0, -1.0, 0.5, 1.5, -0.5, 1.0])
    lin = lambda A: A @ w + 3.0
    rng = np.random.default_rng(4)
    X, base = rng.normal(size=(3, 6)), rng.normal(size=6)
    mask = np.array([0, 0, 1, 1, 1, 2])
    E = gl.lime(lin, X, baseline=base, ridge=0.0, feature_mask=mask, n_samples=200)
    for g in range(3):
        np.testing.assert_allclose(
            E.values[:, mask == g].sum(axis=1),
            ((X - base) * w)[:, mask == g].sum(axis=1),
            rtol=1e-9,
            atol=1e-9,
        )
    plain = gl.lime(f, X, baseline=base, n_samples=300, seed=5)
    single = gl.lime(f, X, baseline=base, n_samples=300, seed=5, feature_mask=np.arange(6))
    np.testing.assert_allclose(single.values, plain.values, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(single.samples_per_point, plain.samples_per_point)


# -- faithfulness over groups ----------------------------------------------------------------


def faithfulness_by_hand(f, x, phi, r, mask):
    """p_G and phi_G straight from the definition, group by group (labels in sorted order)."""
    p, q = [], []
    for label in np.unique(mask):
        at = mask == label
        u = np.where(at, x - r, 0.0)
        if not u.any():
            continue
        c = np.linalg.norm(u) * np.sign(u[at][np.flatnonzero(u[at])[0]])
        p.append((f(x[None])[0] - f(np.where(at, r, x)[None])[0]) / c)
        q.append(phi @ u / c)
    return np.array(q), np.array(p)


@pytest.mark.parametrize("similarity", ["inverse_l2", "pearson", "spearman"])
def test_faithfulness_over_groups_is_the_definition(similarity):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 6))
    X[1, [0, 1]] = 0.0  # group 0 wholly at the reference at point 1
    X[2, 2] = 0.0  # one feature of group 1 at the reference
    phi = rng.normal(size=(4, 6))
    mask = np.array([0, 0, 1, 1, 2, 3])
    got = gl.faithfulness(f, X, phi, feature_mask=mask, similarity=similarity)
    score = {"inverse_l2": lambda a, b: 1 / np.linalg.norm(a - b)}
    for i in range(4):
        q, p = faithfulness_by_hand(f, X[i], phi[i], np.zeros(6), mask)
        if similarity == "inverse_l2":
            np.testing.assert_allclose(got[i], score["inverse_l2"](q, p), rtol=1e-12)
        elif similarity == "pearson":
            np.testing.assert_allclose(got[i], np.corrcoef(q, p)[0, 1], rtol=1e-12)
        else:
            scipy = pytest.importorskip("scipy.stats")
            np.testing.assert_allclose(got[i], scipy.spearmanr(q, p).statistic, rtol=1e-12)


def test_faithfulness_with_singleton_groups_is_the_per_feature_metric_bit_for_bit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 6))
    X[0, 3] = 0.0
    phi = rng.normal(size=(5, 6))
    model = gl.Model(
        f,
        grad=lambda A: np.stack(
            [
                np.cos(A[:, 0] + A[:, 1]) * A[:, 2],
                np.cos(A[:, 0] + A[:, 1]) * A[:, 2],
                np.sin(A[:, 0] + A[:, 1]),
                2 * A[:, 3],
                A[:, 5],
                A[:, 4],
            ],
            axis=1,
        ),
    )
    for sim in ("inverse_l2", "pearson", "spearman"):
        for at in ("exclude", "gradient"):
            kw = {"similarity": sim, "at_reference": at}
            ref = gl.faithfulness(model, X, phi, **kw)
            got = gl.faithfulness(model, X, phi, feature_mask=np.arange(6) + 10, **kw)
            np.testing.assert_array_equal(got, ref)
            # Labels in another order: the same groups, summed in another order.
            got = gl.faithfulness(model, X, phi, feature_mask=np.arange(6)[::-1], **kw)
            np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_a_linear_models_gradient_is_exactly_faithful_over_groups():
    w = np.array([2.0, -1.0, 0.5, 3.0, -2.0, 1.0])
    X = np.random.default_rng(1).normal(size=(3, 6))
    mask = np.array([0, 0, 0, 1, 1, 2])
    got = gl.faithfulness(
        lambda A: A @ w, X, np.tile(w, (3, 1)), feature_mask=mask, similarity="pearson"
    )
    np.testing.assert_allclose(got, 1.0, rtol=1e-12)
    # A group at the reference, read along the uniform direction with the gradient.
    X[0, :3] = 0.0
    m = gl.Model(lambda A: A @ w, grad=lambda A: np.tile(w, (len(A), 1)))
    inv = gl.faithfulness(m, X, np.tile(w, (3, 1)), feature_mask=mask, at_reference="gradient")
    assert np.all(inv > 1e12)


def test_faithfulness_masks_of_an_images_shape():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2, 1, 4, 4))
    w = rng.normal(size=16)
    mask = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 2, axis=0), 2, axis=1)[None]
    phi = rng.normal(size=X.shape)
    got = gl.faithfulness(
        lambda A: np.tanh(A.reshape(len(A), -1) @ w),
        X,
        phi,
        feature_mask=mask,
        similarity="pearson",
    )
    flat = gl.faithfulness(
        lambda A: np.tanh(A @ w),
        X.reshape(2, -1),
        phi.reshape(2, -1),
        feature_mask=mask.reshape(-1),
        similarity="pearson",
    )
    np.testing.assert_array_equal(got, flat)
