"""Known answers for every SIMD path of the random draws (tests/cpp/rng_kat.cpp).

The KAT program is compiled with the system C++ compiler once per path this CPU can run (portable,
SSE2, AVX2, AVX-512); each must print exactly the pinned answers in tests/cpp/rng_kat.txt, and the
pinned answers must be what the installed _core draws. To re-pin after a deliberate change:

    python tests/test_rng_kat.py --write
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gradlime import _core

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE = HERE / "cpp" / "rng_kat.cpp"
PINNED = HERE / "cpp" / "rng_kat.txt"

# -ffp-contract=off: clang (and GCC in GNU mode) would otherwise fuse a*b+c in the transform.
FLAGS = ["-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-psabi"]
X86 = platform.machine().lower() in ("x86_64", "amd64")
PATHS = {
    "portable": ["-DGRADLIME_NO_SIMD"],
    "sse2": ["-mno-avx"],
    "avx2": ["-mavx2", "-mno-avx512f"],
    "avx512": ["-mavx512f", "-mavx512vl"],
}
NEEDS = {"sse2": {"sse2"}, "avx2": {"avx2"}, "avx512": {"avx512f", "avx512vl"}}


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"sse2"} if X86 else set()  # SSE2 is the x86-64 baseline
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _runnable(path: str) -> bool:
    return path == "portable" or (X86 and NEEDS[path] <= _cpu_flags())


def _build_and_run(cxx: str, path: str, out_dir: Path) -> str:
    exe = out_dir / f"rng_kat_{path}"
    cmd = [cxx, *FLAGS, *PATHS[path], f"-I{ROOT / 'cpp' / 'include'}", str(SOURCE), "-o", str(exe)]
    for step in (cmd, [str(exe)]):
        done = subprocess.run(step, check=False, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(step)} failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    cxx = _compiler()
    if cxx is None:
        pytest.skip("no C++ compiler found (set CXX)")
    out_dir = tmp_path_factory.mktemp("rng_kat")
    paths = [p for p in PATHS if _runnable(p)]
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        runs = pool.map(lambda p: _build_and_run(cxx, p, out_dir), paths)
        return dict(zip(paths, runs, strict=True))


def _split(output: str) -> tuple[str, list[str]]:
    first, _, rest = output.partition("\n")
    return first.removeprefix("path "), rest.splitlines()


@pytest.mark.parametrize("path", list(PATHS))
def test_path_prints_the_pinned_answers(outputs, path):
    if path not in outputs:
        pytest.skip(f"this CPU cannot run the {path} path")
    name, lines = _split(outputs[path])
    assert name == path  # the flags selected the path they were meant to
    assert lines == PINNED.read_text().splitlines()


# --- the pinned answers are what the installed _core draws ---------------------------------------
def _digest(values) -> str:
    """FNV-1a over 64-bit words, as rng_kat.cpp: a double is its bits, a mask bit 0 or 1."""
    a = np.ascontiguousarray(values)
    words = a.view(np.uint64) if a.dtype == np.float64 else a.astype(np.uint64)
    h = 0xCBF29CE484222325
    for w in words.ravel().tolist():
        h = ((h ^ w) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def _parse(line: str) -> tuple[str, dict[str, list[int]], str]:
    head, _, answer = line.partition(" -> ")
    what, *pairs = head.split()
    args = {}
    for p in pairs:
        k, v = p.split("=")
        base = 16 if k in ("ctr", "key") else 10
        args[k] = [int(x, base) for x in v.split(",")]
    return what, args, answer


def _core_matches(what: str, a: dict[str, list[int]], grid: dict[str, list[int]], answer: str):
    """Whether _core gives `answer`; None for lines _core's public calls cannot reach."""

    def over_grid(fn):
        return _digest(np.concatenate([fn(f, m).ravel() for f in grid["first"] for m in grid["m"]]))

    seed, stream, d = grid.get("seed", [0])[0], grid.get("stream", [0])[0], a.get("d", [0])[0]
    if what in ("philox4x32_10", "philox_lanes"):
        return answer == " ".join(
            f"{w:08x}" for w in _core._testing.philox4x32_10(a["ctr"], a["key"])
        )
    if what in ("gaussian_rows", "gaussian_columns", "uniform_rows"):
        fn = getattr(_core._testing, what)
        return answer == over_grid(lambda f, m: fn(seed, stream, f, m, d))
    if what == "gaussian_values":
        z = _core._testing.gaussian_rows(a["seed"][0], a["stream"][0], a["first"][0], 1, d)[0]
        return z.tobytes() == np.array([float.fromhex(t) for t in answer.split()]).tobytes()
    if what.startswith("lime_mask_"):
        point = a["point"][0]
        masks = lambda f, m: _core._testing.lime_masks(seed, point, f, m, d).astype(np.uint8)
        return answer == over_grid(masks)
    if what == "shap_subsets":
        N, n = a["points"][0], a["draws"][0]
        z = [
            _core._testing.shap_subset(a["seed"][0], p, j, d, 1 + j % (d - 1))
            for p in range(N)
            for j in range(n)
        ]
        return answer == _digest(np.array(z, dtype=np.uint8))
    if what == "shap_permutations":
        perms = [_core._testing.shap_permutation(a["seed"][0], p, d) for p in range(a["points"][0])]
        return answer == _digest(np.array(perms, dtype=np.uint64))
    return None


def test_pinned_answers_are_the_installed_cores():
    grid: dict[str, list[int]] = {}
    checked = 0
    for line in PINNED.read_text().splitlines():
        what, args, answer = _parse(line)
        if what == "grid":
            grid = args
            continue
        ok = _core_matches(what, args, grid, answer)
        if ok is not None:
            assert ok, line
            checked += 1
    assert checked > 200


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    cxx = _compiler()
    assert cxx, "no C++ compiler found (set CXX)"
    out = Path(os.environ.get("TMPDIR", "/tmp"))
    PINNED.write_text("\n".join(_split(_build_and_run(cxx, "portable", out))[1]) + "\n")
    print(f"wrote {PINNED}")
