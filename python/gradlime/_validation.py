"""Input checks, all in one place, run before anything reaches the compiled core."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "as_background",
    "as_points",
    "as_seed",
    "host_array",
    "host_keywords",
    "noise_spec",
    "positive_int",
]

_MAX_BUFFER_DOUBLES = 1 << 23  # 64 MiB of float64 per batch buffer by default
DEFAULT_BATCH_ROWS = 8192


# dtypes that float64 would silently reinterpret: complex (the imaginary part dropped), datetime
# and timedelta (as counts of their unit). Text fails the conversion itself.
_NOT_REAL = {"c": "complex", "M": "datetime", "m": "timedelta"}


def check_real(value: Any, name: str) -> None:
    """A TypeError naming `name` when `value` holds what is not real numbers."""
    kind = np.asarray(value).dtype.kind
    if kind in _NOT_REAL:
        raise TypeError(f"{name} must be real numbers; got {_NOT_REAL[kind]} values")


def is_frame(obj: Any) -> bool:
    kind = type(obj).__module__.split(".")[0], type(obj).__name__
    return kind in (("pandas", "DataFrame"), ("pandas", "Series"))


def frame_values(obj: Any, name: str) -> Any:
    """A DataFrame's or Series' numbers as float64 (a TypeError naming the first column that
    holds none); anything else unchanged."""
    if not is_frame(obj):
        return obj
    if type(obj).__name__ == "DataFrame":
        for column, dtype in obj.dtypes.items():
            if dtype.kind not in "biuf":
                raise TypeError(
                    f"{name}'s column {column!r} holds {dtype}, not numbers: encode it first "
                    "(for example with a scikit-learn pipeline inside the model)"
                )
    elif obj.dtype.kind not in "biuf":
        raise TypeError(f"{name} holds {obj.dtype}, not numbers")
    return obj.to_numpy(dtype=np.float64)


def is_tensor(obj: Any) -> bool:
    """A torch tensor (or Parameter), recognised without importing torch."""
    return type(obj).__module__.split(".")[0] == "torch" and hasattr(obj, "detach")


def host_array(value: Any) -> Any:
    """A torch tensor, on whatever device and with or without autograd, as a numpy array on the
    host (floating point as float64, exactly: numpy has no bfloat16; integers and booleans as
    they are); anything else unchanged. What a torch user hands in (X on the GPU, a baseline
    that requires grad) is read as its numbers: the explanations are numpy arrays whatever the
    input's device."""
    if not is_tensor(value):
        return value
    t = value.detach()
    if t.is_floating_point():
        import torch  # the tensor's own module: already imported

        t = t.to(dtype=torch.float64)
    return t.cpu().numpy()


def host_keywords(kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` with every torch tensor among its values read to the host (``host_array``)."""
    return {k: host_array(v) for k, v in kw.items()}


def real_array(value: Any, name: str) -> np.ndarray:
    """`value` as an aligned float64 array (a pandas DataFrame or Series too), or a TypeError
    naming `name` for what is not real numbers. Aligned: a buffer unpickled from another process
    (Dask) may start at any byte, and the compiled core reads whole doubles."""
    value = frame_values(host_array(value), name)
    check_real(value, name)
    try:
        return np.require(np.asarray(value, dtype=np.float64), requirements="A")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers; got {type(value).__name__}") from exc


def as_points(X: Any) -> tuple[np.ndarray, bool]:
    """Return X as a C-contiguous float64 (N, d) array and whether the caller gave a 1-D point."""
    arr = real_array(X, "X")
    if arr.ndim == 1:
        arr, single = arr[None, :], True
    elif arr.ndim == 2:
        single = False
    else:
        raise ValueError(f"X must have shape (N, d) or (d,); got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"X must hold at least one point with at least one feature; got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        i, k = (int(v) for v in np.argwhere(bad)[0])
        where = f"feature {k}" if single else f"point {i}, feature {k}"
        raise ValueError(
            f"X contains NaN or inf (first at {where}); explanations need finite inputs"
        )
    return np.ascontiguousarray(arr), single


def as_background(baseline: Any, d: int) -> np.ndarray:
    """The rows that stand in for absent features, as a C-contiguous float64 (B, d) array: a
    scalar or a (d,) vector is one row, a (B, d) matrix is a background sample."""
    b = real_array(baseline, "baseline")
    if b.ndim == 0:
        b = np.full((1, d), float(b))
    elif b.ndim == 1 and b.shape == (d,):
        b = b[None, :]
    elif not (b.ndim == 2 and b.shape[1] == d and b.shape[0] >= 1):
        raise ValueError(
            f"baseline must be a scalar, a vector of shape ({d},) or a background matrix of shape "
            f"(B, {d}) with B >= 1 for X with {d} features; got shape {b.shape}"
        )
    bad = ~np.isfinite(b)
    if bad.any():
        i, k = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"baseline contains NaN or inf (first at row {i}, feature {k})")
    return np.ascontiguousarray(b)


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if int(value) >= 2**63:  # counts are 64-bit signed integers in the core
        raise ValueError(f"{name} must be < 2**63; got {value}")
    return int(value)


def as_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer; got {type(seed).__name__}")
    value = int(seed)
    if not 0 <= value < 2**64:
        raise ValueError(f"seed must be in [0, 2**64); got {value}")
    return value


KERNELS = ("gaussian", "uniform", "laplace")
_SCALE_MEANING = {
    "gaussian": "a standard deviation, not a variance",
    "uniform": "the half-width of the cube",
    "laplace": "the Laplace b, density exp(-|z|/b)/(2b)",
}


def noise_spec(
    sigma: Any, cov: Any, d: int, *, kernel: str = "gaussian", name: str = "sigma"
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return (scale (d,), None) for per-coordinate noise or (None, cov (d, d))."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
    if cov is not None and kernel != "gaussian":
        raise ValueError(f"cov= needs the Gaussian kernel; the {kernel} kernel takes a scale")
    if cov is not None:
        c = real_array(cov, "cov")
        if c.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}) for {d} features; got {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError("cov contains NaN or inf")
        if not np.allclose(c, c.T, rtol=0.0, atol=1e-10 * max(1.0, float(np.abs(c).max()))):
            raise ValueError("cov must be symmetric positive definite; it is not symmetric")
        return None, np.ascontiguousarray(c)
    s = real_array(sigma, name)
    if s.ndim == 0:
        s = np.full(d, float(s))
    elif s.shape != (d,):
        raise ValueError(f"{name} must be a scalar or have shape ({d},); got shape {s.shape}")
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise ValueError(
            f"{name} must be finite and > 0 (it is {_SCALE_MEANING[kernel]}); got {sigma!r}"
        )
    return np.ascontiguousarray(s), None


def nonnegative_float(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number; got {type(value).__name__}") from exc
    if not (np.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
    return v


def positive_float(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number; got {type(value).__name__}") from exc
    if not (np.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}")
    return v


def as_baseline(baseline: Any, d: int) -> np.ndarray:
    """The baseline as a C-contiguous float64 (d,) array: a scalar is repeated."""
    b = real_array(baseline, "baseline")
    if b.ndim == 0:
        b = np.full(d, float(b))
    elif b.shape != (d,):
        raise ValueError(
            f"baseline must be a scalar or have shape ({d},) for {d} features; got shape {b.shape}"
        )
    if not np.isfinite(b).all():
        raise ValueError("baseline contains NaN or inf")
    return np.ascontiguousarray(b)


def default_batch_rows(d: int) -> int:
    """Rows per model call: 8192, fewer when that would take more than 64 MiB."""
    return max(1, min(DEFAULT_BATCH_ROWS, _MAX_BUFFER_DOUBLES // d))


def select_column(n_outputs: int, target: int | None) -> int:
    """The output column to explain: `target`, or the only one."""
    if target is None:
        if n_outputs != 1:
            raise ValueError(
                f"the model has {n_outputs} outputs; pass target= to choose the one to explain"
            )
        return 0
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be an integer; got {type(target).__name__}")
    if not 0 <= int(target) < n_outputs:
        raise ValueError(f"target {target} is out of range for a model with {n_outputs} outputs")
    return int(target)


# What one point keeps while it is in flight (README, "Reproducibility and memory"): bytes per
# sample (its values; LIME's kernel weights; KernelSHAP's coalitions and their bookkeeping), and
# d x d float64 matrices while its fit is finalised: a few for the merged sums, the factorised
# system and the meat, and some per chunk of the wave of (at most 8) chunks summed at once.
# Measured peaks at d = 1500, n = 3000: C-LIME 9.5 matrices (10 here), LIME 7.3. KernelSHAP's
# sampled fit is shared by the call's points: (M, d) design, its solve and its map to the Shapley
# values, about 12 d bytes a coalition, and three d x d matrices (the cubic surrogate is used
# only where it stays within 128 MiB a matrix, shapley_design.hpp).
# method: (bytes a sample, bytes a sample and feature, matrices, matrices a chunk, samples a chunk)
POINT_MEMORY = {
    "clime": (8, 0, 6, 2, 2048),
    "stein": (8, 0, 0, 0, 2048),
    "lime": (16, 0, 6, 2, 2048),
    "kernel_shap": (32, 12, 3, 1, 256),
}
_WAVE_CHUNKS = 8


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the platform does not say."""
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not on Linux or macOS
        return None


class PointTooLarge(MemoryError, ValueError):
    """One point of the call cannot fit in memory: a MemoryError, and a ValueError about the
    arguments (d, n_samples) that make it so."""


def check_point_memory(method: str, d: int, n_samples: int) -> None:
    """PointTooLarge before any work when one point alone cannot fit in this machine's memory
    (a d x d fit at d = 10^5 would compute for minutes and then fail to allocate)."""
    per_sample, per_feature, fixed, per_chunk, chunk = POINT_MEMORY[method]
    squares = fixed + per_chunk * min(_WAVE_CHUNKS, -(-n_samples // chunk))
    per_sample += per_feature * d
    need = per_sample * n_samples + squares * 8 * (d + 1) ** 2
    have = physical_memory()
    if have is None or need <= have:
        return
    parts = [f"{per_sample} bytes a sample"]
    if squares:
        parts.append(f"{squares} (d + 1) x (d + 1) float64 matrices for its fit")
    raise PointTooLarge(
        f"{method} at d = {d} features and n_samples = {n_samples} needs about "
        f"{need / 2**30:.3g} GiB per point ({' and '.join(parts)}); this machine has "
        f"{have / 2**30:.3g} GiB: use fewer samples, or fewer features (group them)"
    )


def adaptive(tol: Any, max_samples: Any, n_samples: int) -> tuple[float, int]:
    """(the engine's stop tolerance, 0 for none; the most samples a point takes) from ``tol=``
    and ``max_samples=`` (which caps an adaptive sample size, n_samples by default)."""
    if tol is None:
        if max_samples is not None:
            raise ValueError("max_samples= caps an adaptive sample size: give tol= with it")
        return 0.0, n_samples
    stop_tol = positive_float(tol, "tol")
    if max_samples is None:
        return stop_tol, n_samples
    return stop_tol, positive_int(max_samples, "max_samples", minimum=2)


#: Independent scrambles of ``qmc=True``: the standard errors' units (t with 7 degrees of freedom).
DEFAULT_SCRAMBLES = 8
_SCRAMBLES = (2, 4, 8, 16, 32)


def qmc_scrambles(qmc: Any) -> int:
    """The engine's number of QMC scrambles from ``qmc=``: 0 (off) for False, 8 for True, or the
    number asked for (2, 4, 8, 16 or 32)."""
    if qmc is None or (isinstance(qmc, (bool, np.bool_)) and not qmc):
        return 0
    if isinstance(qmc, (bool, np.bool_)):
        return DEFAULT_SCRAMBLES
    if isinstance(qmc, (int, np.integer)) and int(qmc) in _SCRAMBLES:
        return int(qmc)
    raise ValueError(
        f"qmc must be True, False or a number of independent scrambles in {_SCRAMBLES}; got {qmc!r}"
    )
