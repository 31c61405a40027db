"""The command line: gradlime explain / info / demo, and its one-line errors."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

import gradlime as gl
from conftest import gpu, onnx_net
from gradlime._cli import main

W = np.array([[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8]], dtype=np.float32)
NAMES = ["a", "b", "c"]
X = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [0.0, 0.4, -0.2]])


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "net.onnx"
    model.write_bytes(onnx_net(W, np.array([0.1, -0.2], np.float32), ["Tanh"]))
    data = tmp_path / "points.csv"
    with open(data, "w", newline="") as fh:
        csv.writer(fh).writerows([NAMES, *X.tolist()])
    return model, data, tmp_path


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


def test_explain_writes_named_columns_with_stderr_and_fx(files):
    model, data, tmp = files
    out = tmp / "attributions.csv"
    argv = [str(model), str(data), "--method", "clime", "--target", "1", "--sigma", "0.3"]
    assert main(["explain", *argv, "--n-samples", "500", "--seed", "4", "--out", str(out)]) == 0
    header, table = read_csv(out)
    assert header == ["a", "a stderr", "b", "b stderr", "c", "c stderr", "fx", "base_value"]
    E = gl.clime(gl.Model.from_onnx(model, target=1), X, sigma=0.3, n_samples=500, seed=4)
    np.testing.assert_array_equal(table[:, [0, 2, 4]], E.values)
    np.testing.assert_array_equal(table[:, [1, 3, 5]], E.stderr)
    np.testing.assert_array_equal(table[:, 6], E.fx)


def test_explain_npy_with_a_baseline_and_a_plot(files):
    pytest.importorskip("matplotlib")
    model, _, tmp = files
    np.save(tmp / "x.npy", X)
    np.save(tmp / "base.npy", np.zeros((1, 3)))
    out, png = tmp / "ig.csv", tmp / "ig.png"
    argv = [str(model), str(tmp / "x.npy"), "--method", "integrated_gradients", "--target", "0"]
    assert (
        main(
            [
                "explain",
                *argv,
                "--baseline",
                str(tmp / "base.npy"),
                "--out",
                str(out),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    header, table = read_csv(out)
    assert header[:2] == ["x0", "x0 stderr"]
    E = gl.integrated_gradients(gl.Model.from_onnx(model, target=0), X)
    np.testing.assert_array_equal(table[:, [0, 2, 4]], E.values)
    assert png.stat().st_size > 1000


def test_explain_a_scikit_learn_model_saved_with_joblib(tmp_path):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 3))
    est = LinearRegression().fit(A, A @ [1.0, 2.0, -1.0])
    joblib.dump(est, tmp_path / "lin.joblib")
    np.save(tmp_path / "x.npy", A[:2])
    out = tmp_path / "shap.csv"
    assert (
        main(
            [
                "explain",
                str(tmp_path / "lin.joblib"),
                str(tmp_path / "x.npy"),
                "--method",
                "kernel_shap",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    _, table = read_csv(out)
    np.testing.assert_allclose(table[:, 6], est.predict(A[:2]), rtol=1e-6)  # native, float32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "missing.onnx"}, "no such model file"),
        ({"data": "missing.csv"}, "no such data file"),
        ({"method": "nope"}, "--method must be one of"),
        ({"out": "out.txt"}, "the output must be a .csv or .parquet file"),
        ({"data": "text.csv"}, "not all numbers"),
        ({"data": "wide.csv"}, "X has 4 features but the model takes 3"),
        ({"extra": ["--n-samples", "5"], "method": "gradient"}, "--n-samples does not apply"),
        ({"extra": ["--sigma", "-1"]}, "sigma"),
        ({"model": "points.csv"}, "the model must be an .onnx file"),
        ({"extra": ["--device", "cuda"], "method": "gradient"}, "--device does not apply"),
        ({"extra": ["--device", "gpu"]}, "device must be None, 'cpu', 'cuda' or 'cuda:N'"),
        pytest.param(
            {"extra": ["--device", "cuda"]},
            "no usable CUDA device" if gl.cuda_info()["compiled"] else "built without CUDA",
            marks=pytest.mark.skipif(gl.cuda_available(), reason="a CUDA device is here"),
            id="no-gpu",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, change, message):
    model, data, tmp = files
    (tmp / "text.csv").write_text("a,b,c\n1,x,3\n")
    (tmp / "wide.csv").write_text("a,b,c,d\n1,2,3,4\n")
    m = tmp / change["model"] if "model" in change else model
    d = tmp / change["data"] if "data" in change else data
    argv = [
        "explain",
        str(m),
        str(d),
        "--method",
        change.get("method", "clime"),
        "--target",
        "0",
        "--out",
        str(tmp / change.get("out", "o.csv")),
        *change.get("extra", []),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gradlime: error: ")
    assert message in err


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=gpu)], ids=["cpu", "cuda"])
def test_explain_on_a_device_gives_the_cpu_s_numbers(files, device):
    model, data, tmp = files
    run = ["explain", str(model), str(data), "--method", "smoothgrad", "--target", "1"]
    assert main([*run, "--out", str(tmp / "cpu.csv")]) == 0
    assert main([*run, "--device", device, "--out", str(tmp / "dev.csv")]) == 0
    np.testing.assert_allclose(
        read_csv(tmp / "dev.csv")[1], read_csv(tmp / "cpu.csv")[1], rtol=1e-6, atol=1e-12
    )


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"gradlime {gl.__version__}" in out
    assert "vector instructions:" in out
    assert "OpenMP:" in out
    info = gl.cuda_info()
    if not info["compiled"]:
        assert "CUDA: no (this build has no CUDA backend)" in out
    elif not info["devices"]:
        assert f"CUDA: built in, no usable device ({info['error']})" in out
    else:
        assert f"CUDA: yes, {info['devices']} device(s)" in out


def test_python_dash_m_gradlime_runs_the_cli(files):
    model, data, tmp = files
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradlime",
            "explain",
            str(model),
            str(data),
            "--method",
            "lime",
            "--target",
            "0",
            "--out",
            str(tmp / "x.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradlime",
            "explain",
            str(tmp / "none.onnx"),
            str(data),
            "--method",
            "lime",
            "--out",
            str(tmp / "x.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
