from collections.abc import Callable
from typing import Any, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

from . import _testing as _testing

Array: TypeAlias = npt.NDArray[np.float64]
Estimate: TypeAlias = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
Progress: TypeAlias = Callable[[int, int], Any]

# {estimator: (values, stderr)} for each one asked for, and "samples": the samples each point used.
EngineRun: TypeAlias = dict[str, Any]

class KernelShapRun(TypedDict):
    values: Array
    stderr: Array
    fx: Array
    expected_value: float
    coalitions: int
    cubic: bool
    samples: npt.NDArray[np.int64]

def max_threads() -> int: ...

class CudaInfo(TypedDict):
    compiled: bool
    devices: int
    error: str
    names: list[str]

def cuda_info() -> CudaInfo: ...

openmp: bool
simd: str
cuda: bool

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
    kept_normals_bytes: int = ...,
    network: FeedForwardNetwork | None = None,
    target: int = 0,
    kernel: str = "gaussian",
    common_draws: bool = False,
    antithetic: bool = False,
    qmc: int = 0,
    stein_cv: bool = False,
    stop_tol: float = 0.0,
    batch_rows: int = 8192,
    fused_network: bool = True,
    point_offset: int = 0,
    progress: Progress | None = None,
    progress_interval: float = 0.1,
    device: str = "cpu",
    value_and_grad: Callable[[npt.NDArray[np.float64]], Any] | None = None,
) -> EngineRun: ...
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
    cubic: bool = True,
    stop_tol: float = 0.0,
    looks: list[int] = ...,
    batch_rows: int = 8192,
    fused_network: bool = True,
    point_offset: int = 0,
    progress: Progress | None = None,
    progress_interval: float = 0.1,
    device: str = "cpu",
) -> KernelShapRun: ...
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
    kept_mask_bytes: int = ...,
    stop_tol: float = 0.0,
    batch_rows: int = 8192,
    fused_network: bool = True,
    point_offset: int = 0,
    progress: Progress | None = None,
    progress_interval: float = 0.1,
    device: str = "cpu",
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...

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
    antithetic: bool = False,
    qmc: int = 0,
) -> npt.NDArray[np.float64]: ...
