"""Every public docstring example runs and gives what it shows; every registered method is
public and documented; the demo runs."""

from __future__ import annotations

import doctest
import importlib
import inspect
import subprocess
import sys

import pytest

import gradlime
from gradlime.registry import REGISTRY


@pytest.mark.parametrize(
    "name",
    [
        "models",
        "methods",
        "explain",
        "paths",
        "smoothing",
        "lime",
        "shap",
        "metrics",
        "theory",
        "registry",
        "result",
        "lipschitz",
        "tradeoff",
        "_streams",
        "_dask",
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(f"gradlime.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", list(REGISTRY))
def test_registered_method_is_public_and_documented(name):
    spec = REGISTRY[name]
    assert name in gradlime.__all__
    assert getattr(gradlime, name) is spec.function
    assert spec.function.__name__ == name
    doc = inspect.getdoc(spec.function) or ""
    assert doc.split("\n", 1)[0].strip(), "a one-line summary first"
    assert "\nExamples\n--------\n>>> " in doc, "a numpy-style Examples section"
    tests = doctest.DocTestFinder().find(spec.function, name, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False) == doctest.TestResults(0, runner.tries)
    assert runner.tries > 0


@pytest.mark.parametrize("name", list(REGISTRY))
def test_registered_method_signature(name):
    spec = REGISTRY[name]
    params = inspect.signature(spec.function).parameters
    assert list(params)[:2] == ["model", "X"]
    assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in spec.keywords)
    assert spec.seeded == ("seed" in params)
    if spec.scale is not None:
        assert spec.scale in spec.keywords
    assert ("sigma" in params or "radius" in params) == (spec.scale is not None)


def test_every_public_method_is_registered():
    explainers = {
        name
        for name in gradlime.__all__
        if inspect.isfunction(getattr(gradlime, name))
        and inspect.signature(getattr(gradlime, name)).return_annotation == "Explanation"
    }
    assert explainers == set(REGISTRY)


def test_public_api_is_listed():
    for name in gradlime.__all__:
        assert hasattr(gradlime, name)


def test_demo_runs():
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradlime",
            "demo",
            "--points",
            "2",
            "--n-samples",
            "500",
            "--no-png",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "smoothgrad" in res.stdout
    assert "clime" in res.stdout
    assert "stein" in res.stdout
    assert "agreement" in res.stdout
    assert "s5_ltg" in res.stdout  # the features by name
    assert "predicted progression" in res.stdout


def test_demo_draws_its_picture(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradlime",
            "demo",
            "--points",
            "1",
            "--n-samples",
            "300",
            "--png",
            str(png),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"wrote {png}" in res.stdout
    assert png.stat().st_size > 10_000
