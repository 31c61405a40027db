"""Where the sampling methods run: ``device=None`` or ``"cpu"`` (the compiled engine), or
``"cuda"`` / ``"cuda:N"``. On a CUDA device a native network (ONNX, scikit-learn MLPs) is
explained by the CUDA backend (cpp/cuda/: draws, network, per-point sums on the GPU, the same
per-sample code as the CPU's reference): the Gaussian family, LIME and KernelSHAP. A torch model
runs on its own device through the torch path (``Model.from_torch(module, device="cuda")``),
the draws and sums on the host."""

from __future__ import annotations

from typing import Any

from . import _core

__all__ = ["cuda_available", "cuda_info", "resolve"]


def cuda_info() -> dict[str, Any]:
    """What this build and machine offer: ``compiled`` (built with the CUDA backend),
    ``devices`` (usable GPUs), ``names``, and ``error`` (why there are none)."""
    return dict(_core.cuda_info())


def cuda_available() -> bool:
    """Whether ``device="cuda"`` can run native networks here: this build has the CUDA backend
    and the machine a usable GPU (``gl.cuda_info()`` says why not)."""
    info = _core.cuda_info()
    return bool(info["compiled"]) and int(info["devices"]) > 0


def _index(device: str) -> int:
    if device == "cuda":
        return 0
    tail = device[len("cuda:") :]
    if not device.startswith("cuda:") or not tail.isdigit():
        raise ValueError(f"device must be None, 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    return int(tail)


def resolve(device: Any, model: Any) -> str:
    """The engine's device for ``device`` and the model: "cuda:N" (the CUDA backend), or "cpu"
    (the engine's own path: the CPU, or a torch model on whatever device it is on); raises,
    saying what is missing, when the device cannot be had. What the backend does not run (Stein's
    control variate, a full covariance, antithetic or QMC draws, tol) the engine refuses by
    name; feature_mask, the methods."""
    if device is None or device == "cpu":
        return "cpu"
    if not isinstance(device, str):
        raise TypeError(f"device must be None, 'cpu', 'cuda' or 'cuda:N'; got {device!r}")
    index = _index(device)
    if model.engine == "torch":
        if model._device_type != "cuda":
            raise ValueError(
                f"device={device!r}, but this torch model runs on {model._device_type!r}: "
                "build it with gl.Model.from_torch(module, device='cuda')"
            )
        return "cpu"  # the torch path feeds the module on its device
    if model._network is None:
        raise ValueError(
            f"device={device!r} runs native networks (gl.Model.from_onnx, from_sklearn MLPs) and "
            f"torch modules on a GPU; this model's engine is {model.engine!r}: use device='cpu'"
        )
    info = _core.cuda_info()
    if not info["compiled"]:
        raise RuntimeError(
            f"device={device!r}, but this gradlime was built without CUDA (no CUDA toolkit was "
            "found when it was built): reinstall it where nvcc is on the PATH, or use device='cpu'"
        )
    if int(info["devices"]) == 0:
        raise RuntimeError(
            f"device={device!r}, but no usable CUDA device was found ({info['error']}); "
            "use device='cpu'"
        )
    if index >= int(info["devices"]):
        raise ValueError(f"device={device!r}: this machine has {info['devices']} CUDA device(s)")
    return f"cuda:{index}"
