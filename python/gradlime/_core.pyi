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
def gaussian_columns(
    seed: int, stream: int, first: int, m: int, d: int
) -> npt.NDArray[np.float64]: ...
def uniform_rows(seed: int, stream: int, first: int, m: int, d: int) -> npt.NDArray[np.float64]: ...
def max_threads() -> int: ...

openmp: bool

def run(
    X: npt.NDArray[np.float64],
    f: Callable[[npt.NDArray[np.float64]], Any] | None,
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
    network: FeedForwardNetwork | None = None,
    target: int = 0,
    kernel: str = "gaussian",
    common_draws: bool = False,
    fused_network: bool = True,
) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]: ...
def kernel_shap(
    X: npt.NDArray[np.float64],
    background: npt.NDArray[np.float64],
    f: Callable[[npt.NDArray[np.float64]], Any] | None,
    grad: Callable[[npt.NDArray[np.float64]], Any] | None,
    network: FeedForwardNetwork | None = None,
    target: int = 0,
    exact: bool = False,
    n_samples: int = 2048,
    seed: int = 0,
    batch_rows: int = 8192,
    fused_network: bool = True,
) -> dict[str, Any]: ...
def lime(
    X: npt.NDArray[np.float64],
    baseline: npt.NDArray[np.float64],
    f: Callable[[npt.NDArray[np.float64]], Any] | None,
    grad: Callable[[npt.NDArray[np.float64]], Any] | None,
    network: FeedForwardNetwork | None = None,
    target: int = 0,
    n_samples: int = 1000,
    kernel_width: float = 1.0,
    ridge: float = 1.0,
    seed: int = 0,
    batch_rows: int = 8192,
    kept_mask_bytes: int = ...,
    fused_network: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def lime_masks(seed: int, point: int, first: int, m: int, d: int) -> npt.NDArray[np.float64]: ...

class FeedForwardNetwork:
    def __init__(self, input_dim: int) -> None: ...
    def add_dense(self, weight: npt.ArrayLike, bias: npt.ArrayLike) -> None: ...
    def add_activation(self, kind: str, alpha: float = 0.0, gamma: float = 0.0) -> None: ...
    @property
    def input_dim(self) -> int: ...
    @property
    def output_dim(self) -> int: ...
    def evaluate(
        self, A: npt.NDArray[np.float64], target: int = 0, gradient: bool = False
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]: ...

def noise_rows(
    kernel: str,
    scale: npt.NDArray[np.float64] | None = None,
    cov: npt.NDArray[np.float64] | None = None,
    seed: int = 0,
    stream: int = 0,
    first: int = 0,
    m: int = 1,
) -> npt.NDArray[np.float64]: ...
