"""Trains the demo's model and writes it, with its data, into the package.

    python scripts/train_demo_model.py      # needs scikit-learn and onnx

The data: the diabetes study of Efron, Hastie, Johnstone & Tibshirani ("Least angle regression",
Annals of Statistics, 2004), as scikit-learn distributes it unscaled: 442 patients, ten baseline
measurements (age, sex, body-mass index, blood pressure, six blood serum values) and a measure of
disease progression one year later. The model: a 10-16-16-1 tanh network (scikit-learn's
MLPRegressor, L2 penalty 10: a linear fit gets R^2 0.33 on the held-out fifth, it 0.35)
on standardised inputs and target, written as one ONNX graph that takes the raw
measurements and returns the progression in its own units (the standardisations folded into the
first and last layers), so gradlime's native engine runs it with exact gradients.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor

OUT = pathlib.Path(__file__).resolve().parents[1] / "python" / "gradlime" / "data"
NAMES = ["age", "sex", "bmi", "bp", "s1_tc", "s2_ldl", "s3_hdl", "s4_tch", "s5_ltg", "s6_glu"]


def main() -> None:
    X, y = load_diabetes(return_X_y=True, scaled=False)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    ym, ys = y.mean(), y.std()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    net = MLPRegressor(
        hidden_layer_sizes=(16, 16), activation="tanh", alpha=10.0, max_iter=5000, random_state=0
    ).fit((Xtr - mu) / sd, (ytr - ym) / ys)
    pred = net.predict((Xte - mu) / sd) * ys + ym
    r2 = 1 - np.mean((pred - yte) ** 2) / np.var(yte)
    print(f"held-out R^2 = {r2:.3f} on {len(yte)} patients")

    # (x - mu) / sd @ W1 + b1 = x @ (W1 / sd) + (b1 - (mu / sd) @ W1); out * ys + ym likewise.
    W = [np.array(w, dtype=np.float64) for w in net.coefs_]
    b = [np.array(v, dtype=np.float64) for v in net.intercepts_]
    W[0], b[0] = W[0] / sd[:, None], b[0] - (mu / sd) @ W[0]
    W[-1], b[-1] = W[-1] * ys, b[-1] * ys + ym
    nodes, inits, cur = [], [], "x"
    for i, (w, c) in enumerate(zip(W, b, strict=True)):
        inits += [
            numpy_helper.from_array(w.astype(np.float32), f"W{i}"),
            numpy_helper.from_array(c.astype(np.float32), f"b{i}"),
        ]
        out = "y" if i == len(W) - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [out]))
        if i < len(W) - 1:
            nodes.append(helper.make_node("Tanh", [out], [f"h{i}"]))
            cur = f"h{i}"
    graph = helper.make_graph(
        nodes,
        "diabetes_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", X.shape[1]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model.doc_string = f"10-16-16-1 tanh MLP, diabetes progression; held-out R^2 {r2:.3f}"
    onnx.checker.check_model(model, full_check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(model, OUT / "diabetes_mlp.onnx")
    rows = np.column_stack([X, y])
    header = ",".join([*NAMES, "progression"])
    np.savetxt(OUT / "diabetes.csv", rows, delimiter=",", header=header, comments="", fmt="%.6g")
    print(f"wrote {OUT / 'diabetes_mlp.onnx'} and {OUT / 'diabetes.csv'}")


if __name__ == "__main__":
    main()
