"""Every public docstring example runs and gives what it shows; the demo runs."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import gradlime


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
        "robustness",
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(f"gradlime.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_api_is_listed():
    for name in gradlime.__all__:
        assert hasattr(gradlime, name)


def test_demo_runs():
    res = subprocess.run(
        [sys.executable, "-m", "gradlime", "demo", "--points", "2", "--n-samples", "500"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "smoothgrad" in res.stdout
    assert "clime" in res.stdout
    assert "stein" in res.stdout
    assert "agreement" in res.stdout
