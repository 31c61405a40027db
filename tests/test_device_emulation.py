"""The CUDA kernels' own code on the host (device="cuda_emulation", device/blocks.hpp and
device/block_backend.hpp): each block's phases run thread by thread between the barriers, the
tiles in emulated shared memory or (":global") in global memory, the chunks of points, buffers
and launches as the GPU gets them. Every sum is the host reference's sequence of operations, so
the emulation must give device="cuda_reference" bit for bit: CI checks the kernels' tiling,
rows and owners without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_network as network
from gradlime import _core

EMULATIONS = ["cuda_emulation", "cuda_emulation:global"]
X = np.random.default_rng(31).normal(size=(40, 7))


def assert_same(a, b):
    if isinstance(a, dict):
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def gaussian(model, X, device, **kw):
    args = {"smoothgrad": True, "clime": True, "stein": True, "n_samples": 300, "seed": 3}
    args["stddev"] = np.full(X.shape[1], 0.7)
    args.update(kw)
    return _core.run(X, **model._engine_args(), device=device, **args)


@pytest.mark.parametrize("device", EMULATIONS)
@pytest.mark.parametrize(
    "kw",
    [{}, {"n_samples": 77}, {"n_samples": 256, "common_draws": True}, {"point_offset": 9}],
    ids=["partial-tile", "one-tile", "whole-tiles-common", "offset"],
)
def test_the_gaussian_family_is_the_references_bit_for_bit(device, kw):
    # 40 points are three chunks of the emulation's memory; 300 samples, two whole tiles of 128
    # and a part.
    m = network(("elu", "tanh", "softmax"))
    assert_same(gaussian(m, X, device, **kw), gaussian(m, X, "cuda_reference", **kw))


@pytest.mark.parametrize("device", EMULATIONS)
def test_unigrad_is_the_references_bit_for_bit(device):
    m = network(("relu", "relu", None))
    kw = {"clime": False, "stein": False, "kernel": "uniform"}
    assert_same(gaussian(m, X, device, **kw), gaussian(m, X, "cuda_reference", **kw))


@pytest.mark.parametrize("device", EMULATIONS)
@pytest.mark.parametrize("d", [7, 130], ids=["one-mask-block", "two-mask-blocks"])
def test_lime_is_the_references_bit_for_bit(device, d):
    # At d = 130 a block's double rows outgrow the emulated 227 KiB of shared memory: the tile
    # goes to global memory on its own.
    m = network(("relu", "elu", None), d=d)
    P = np.random.default_rng(d).normal(size=(20, d))
    base = np.random.default_rng(1).normal(size=d)

    def run(device):
        return _core.lime(
            P, base, **m._engine_args(), n_samples=300, kernel_width=3.0, device=device
        )

    assert_same(run(device), run("cuda_reference"))


@pytest.mark.parametrize("device", EMULATIONS)
@pytest.mark.parametrize("exact", [False, True], ids=["sampled", "exact"])
def test_kernel_shap_is_the_references_bit_for_bit(device, exact):
    m = network(("tanh", "relu", None))
    bg = np.random.default_rng(2).normal(size=(6, 7))

    def run(device):
        return _core.kernel_shap(
            X, bg, **m._engine_args(), n_samples=64, exact=exact, seed=5, device=device
        )

    assert_same(run(device), run("cuda_reference"))


def test_a_wide_network_runs_its_tiles_from_global_memory():
    # 100-256-256-2 (the large network): a thread's scratch is 1,638 floats, a block's
    # 840 KB, beyond any GPU's shared memory.
    rng = np.random.default_rng(0)
    m = network(("elu", "elu", "softmax"), d=100, widths=(256, 256), out=2)
    P = rng.normal(size=(3, 100))
    kw = {"n_samples": 130, "stddev": np.full(100, 0.3), "stein": False}
    assert_same(gaussian(m, P, "cuda_emulation", **kw), gaussian(m, P, "cuda_reference", **kw))
