"""``gradlime reproduce paper1 --quick``: end to end on small sizes, checking paper 1's
qualitative claims (section 6): the SmoothGrad-C-LIME distance falls with the number of
perturbations (Figure 2), and so does each method's distance to its neighbours' explanations
(Figure 3); the Simulated set is as described."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import gradlime as gl
from gradlime._cli import main

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("onnx")


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_simulated_set_is_as_described():
    from gradlime.experiments.paper1 import datasets

    X, y = datasets(0)["simulated"]
    assert X.shape == (1000, 2)
    assert set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.05
    np.testing.assert_allclose(X.mean(0), 0.0, atol=1e-12)  # normalised
    assert X[y == 1].mean() > 0.5 > -0.5 > X[y == 0].mean()  # mu_1 = (1, 1), mu_0 = (-1, -1)


def test_reproduce_paper1_quick(tmp_path, capsys):
    assert main(["reproduce", "paper1", "--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("paper1_equivalence.csv", "paper1_robustness.csv", "paper1_equivalence.png"):
        assert (tmp_path / name).exists()
        assert name in printed
    eq = rows(tmp_path / "paper1_equivalence.csv")
    assert list(eq[0]) == ["dataset", "n_samples", "sigma2", "mean_l1_distance"]
    for dataset in ("simulated", "breast_cancer", "diabetes"):
        curve = [float(r["mean_l1_distance"]) for r in eq if r["dataset"] == dataset]
        assert len(curve) >= 3
        assert curve[-1] < curve[0] / 2  # equivalence: the distance falls with n
    rob = rows(tmp_path / "paper1_robustness.csv")
    assert list(rob[0]) == ["dataset", "method", "n_samples", "mean_max_l1_distance"]
    for dataset in ("simulated", "breast_cancer"):
        for method in ("smoothgrad", "clime"):
            curve = [
                float(r["mean_max_l1_distance"])
                for r in rob
                if r["dataset"] == dataset and r["method"] == method
            ]
            assert curve[-1] < curve[0]  # robustness: the max distance falls with n
    for r in rows(tmp_path / "paper1_theorem2.csv"):  # f(x) = |x|, Theorem 2's counterexample
        measured, stated = float(r["measured_lipschitz"]), float(r["stated_bound"])
        assert measured > 1.4 * stated  # the stated constant is too small (by 2 sqrt(2 / pi))
        assert abs(measured / float(r["certified_bound"]) - 1) < 0.15
    sigma = rows(tmp_path / "paper1_sigma.csv")
    assert {r["sigma2"] for r in sigma} == {"0.01", "0.1", "1.0"}
    first = {r["sigma2"]: float(r["mean_l1_distance"]) for r in sigma[::3]}
    assert first["0.01"] < first["1.0"]  # a smaller neighbourhood: closer at the same n
    acc = rows(tmp_path / "paper1_accuracy.csv")
    accuracy = [float(a) for a in dict.fromkeys(r["test_accuracy"] for r in acc)]
    assert len(accuracy) == 3
    assert accuracy[0] < accuracy[-1]  # the under-trained models are less accurate
    for name in ("paper1_sigma.png", "paper1_accuracy.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_reproduce_says_what_is_wrong(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "paper9", "--out", "x"])
    assert "invalid choice" in capsys.readouterr().err


def test_reproduce_paper2_quick(tmp_path):
    assert main(["reproduce", "paper2", "--quick", "--out", str(tmp_path)]) == 0
    toy = rows(tmp_path / "paper2_toy.csv")
    assert float(toy[0]["phi_1"]) > 0.95  # a small sigma: the gradient [1, 0] at x
    assert abs(float(toy[-1]["phi_1"]) - 0.5) < 0.05  # a large one: [0.5, 0.5] (Fig. 2b)
    table = rows(tmp_path / "paper2_table1.csv")
    lip = {(r["model"], r["method"]): float(r["mean_lipschitz"]) for r in table}
    methods = {r["method"] for r in table} - {"model"}
    assert len(methods) == 6
    for arch in ("mlp", "cnn"):
        robust = f"{arch}_pgd0.1"
        assert lip[(robust, "model")] < lip[(arch, "model")]  # PGD: a more robust model
        more_robust = [m for m in methods if lip[(robust, m)] < lip[(arch, m)]]
        assert len(more_robust) >= 4  # for most methods, the robust model's explanations are
    rank = [r for r in rows(tmp_path / "paper2_rank.csv") if r["architecture"] == "mlp"]
    assert sum(float(r["spearman"]) > 0.5 for r in rank) >= 4  # and the ranks agree (Fig. 3)
    methods_rows = rows(tmp_path / "paper2_methods.csv")
    assert {r["method"] for r in methods_rows} == methods
    sig = rows(tmp_path / "paper2_sigma.csv")
    assert {r["model"] for r in sig} == {"mlp", "mlp_pgd0.1", "cnn", "cnn_pgd0.1"}
    for model in ("mlp", "mlp_pgd0.1", "cnn", "cnn_pgd0.1"):
        curve = [r for r in sig if r["model"] == model]
        lips = [float(r["lipschitz"]) for r in curve]
        assert lips[-1] < lips[0]  # SmoothGrad's Lipschitz falls with sigma (Theorem 4.1)
        faith = [float(r["faithfulness"]) for r in curve]
        best = int(np.argmax(faith))
        assert 0 < best < len(faith) - 1  # faithfulness rises, then falls (Theorem 5.2)
    for name in ("paper2_sigma.png", "paper2_toy.png", "paper2_methods.png"):
        assert (tmp_path / name).exists()
    # The exported ONNX files are the trained models: their accuracy on the test split is the
    # recorded one (the MLP's natively, the CNN's through onnxruntime, from its image input).
    from gradlime.experiments._training import split
    from gradlime.experiments.paper2 import digits

    X, y = digits()
    _, test = split(len(X), 0)
    accuracy = {
        r["model"]: float(r["test_accuracy"]) for r in rows(tmp_path / "paper2_accuracy.csv")
    }
    for name, engine in (("mlp", "native"), ("cnn_pgd0.1", "onnxruntime")):
        path = tmp_path / "models" / f"{name}.onnx"
        logits = np.stack(
            [gl.Model.from_onnx(path, target=c, engine=engine)(X[test]) for c in range(10)], 1
        )
        assert abs((logits.argmax(1) == y[test]).mean() - accuracy[name]) < 0.01


def test_the_papers_own_uci_sets_are_read_from_a_local_folder(tmp_path):
    from gradlime.experiments.paper1 import datasets

    table = np.column_stack([np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2])
    np.savetxt(tmp_path / "bankruptcy.csv", table, delimiter=",", header="a,b,c,label", comments="")
    sets = datasets(0, uci=tmp_path)
    X, y = sets["bankruptcy"]
    assert X.shape == (50, 3)
    np.testing.assert_allclose(X.std(0), 1.0)
    np.testing.assert_array_equal(y, np.arange(50) % 2)
    assert "online_shopping" not in sets  # absent: left out
