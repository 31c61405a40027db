from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

def philox4x32_10(
    counter: tuple[int, int, int, int] | list[int], key: tuple[int, int] | list[int]
) -> list[int]: ...
def gaussian_rows(
    seed: int, stream: int, first: int, m: int, d: int
) -> npt.NDArray[np.float64]: ...
def max_threads() -> int: ...
def run(
    X: npt.NDArray[np.float64],
    f: Callable[[npt.NDArray[np.float64]], Any],
    grad: Callable[[npt.NDArray[np.float64]], Any] | None,
    stddev: npt.NDArray[np.float64] | None = None,
    cov: npt.NDArray[np.float64] | None = None,
    smoothgrad: bool = False,
    clime: bool = False,
    stein: bool = False,
    n_samples: int = 1000,
    ridge: float = 0.0,
    seed: int = 0,
    batch_rows: int = 8192,
    kept_normals_bytes: int = ...,
) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]: ...
