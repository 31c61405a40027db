"""Test-only hooks into gradlime's core: the draws themselves, for known-answer and layout tests."""

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
def lime_masks(seed: int, point: int, first: int, m: int, d: int) -> npt.NDArray[np.float64]: ...
