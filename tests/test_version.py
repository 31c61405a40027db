"""The version is written once (``__version__``) and the installed metadata reads it."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import gradlime


def test_version_matches_the_installed_metadata():
    try:
        dist = importlib.metadata.distribution("gradlime")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("gradlime's package metadata is not installed (run from the source tree)")
    installed = Path(str(dist.locate_file("gradlime/__init__.py"))).resolve()
    if installed != Path(gradlime.__file__).resolve():
        pytest.skip(f"the imported gradlime ({gradlime.__file__}) is not the installed one")
    assert gradlime.__version__ == importlib.metadata.version("gradlime")
