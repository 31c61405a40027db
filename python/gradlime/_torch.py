"""torch modules as models, at the module's own speed (``Model.from_torch``).

The engine draws each batch of perturbations in float64 from its counters (the same draws as
every other model, point i from stream i) and hands the rows over as a numpy array; here they
become one tensor in the module's dtype, on its device and, for convolutional networks on 4-D
inputs, in channels-last layout (one fused cast-and-copy: the rounding to the module's dtype).
The forward and the backward run with the module's parameters frozen (no weight gradients are
built or kept), values and gradients from one pass when the engine wants both, and the gradients
come back as one cast to float64 for the engine's accumulators. A network with batch norm runs
as a copy with each eval-mode BatchNorm folded into the convolution before it (torch.fx's
``fuse``: the same function to float rounding, 15-25% faster on a CPU), rebuilt whenever the
module's weights change (torch's version counters and storage pointers, the check autograd
itself relies on: in-place edits through ``.data`` escape it, as they escape autograd). Batches are sized from the
memory autograd saves per row (measured once per input shape with one row), so memory is bounded
by the batch. Everything device-specific is the tensor's device: the CUDA backend only has to
supply the device kernels.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._validation import default_batch_rows, select_column

__all__ = ["TorchRunner", "import_torch"]

#: Bytes autograd may keep for one batch on the CPU (its saved activations).
CPU_BATCH_BYTES = 256 << 20
#: Most rows a batch on the CPU: past about this the module's own throughput falls as its
#: activations leave the caches (measured: bench/torch_vs_captum.py's small CNN, 100-150 rows
#: 15-25% faster than 400).
CPU_BATCH_ROWS = 128
#: The share of a GPU's free memory one batch may take.
GPU_BATCH_SHARE = 0.25


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "Model.from_torch needs torch: `pip install torch` (or gradlime's `torch` extra)"
        ) from exc
    return torch


class TorchRunner:
    """One module's forward and backward on batches of rows handed over by the engine."""

    def __init__(self, module: Any, target: int | None, device: Any = None) -> None:
        torch = import_torch()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"Model.from_torch needs a torch.nn.Module; got {type(module).__name__}"
            )
        tensors = [*module.parameters(), *module.buffers()]
        if device is not None:
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError) as exc:
                raise ValueError(f"device must name a torch device; got {device!r}") from exc
            if device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(
                    f"device={str(device)!r}, but this torch sees no CUDA device "
                    f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})"
                )
            module.to(device)  # as nn.Module.to does: in place
        else:
            device = tensors[0].device if tensors else torch.device("cpu")
        floats = [t.dtype for t in tensors if t.is_floating_point()]
        self.torch, self.module, self.target, self.device = torch, module.eval(), target, device
        self.dtype = floats[0] if floats else torch.float32
        self.convolutional = any(isinstance(m, torch.nn.Conv2d) for m in module.modules())
        self._foldable = self.convolutional and any(
            isinstance(m, torch.nn.BatchNorm2d) for m in module.modules()
        )
        self._folded: tuple[Any, Any] = (None, None)  # (weights' key, the folded copy)
        self._rows: dict[tuple[int, ...], int] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (Dask, multiprocessing) as the module and settings: torch itself and the
        folded copy are rebuilt where it lands."""
        state = dict(self.__dict__)
        del state["torch"]
        state["_folded"] = (None, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, torch=import_torch())

    # -- the model's callables: (m, ...) float64 numpy rows in, numpy out ---------------------

    def values(self, A: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self._to_numpy(self._forward(self._tensor(A)))

    def gradients(self, A: np.ndarray) -> np.ndarray:
        return self.values_and_gradients(A)[1]

    def values_and_gradients(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        x = self._tensor(A).requires_grad_(True)
        with self._frozen(), torch.enable_grad():
            y = self._forward(x)
            (g,) = torch.autograd.grad(y.sum(), x)
        return self._to_numpy(y.detach()), self._to_numpy(g)

    def batch_rows(self, shape: tuple[int, ...]) -> int:
        """Rows per batch for points of `shape`: what autograd saves for one row, measured once,
        against the batch budget of the device (a quarter of a GPU's free memory; 256 MiB and at
        most 128 rows on the CPU), at most the engine's own default."""
        if shape not in self._rows:
            per_row = max(self._saved_bytes(shape), 1)
            most = default_batch_rows(int(np.prod(shape)))
            if self.device.type == "cuda":
                budget = int(self.torch.cuda.mem_get_info(self.device)[0] * GPU_BATCH_SHARE)
            else:
                budget, most = CPU_BATCH_BYTES, min(most, CPU_BATCH_ROWS)
            self._rows[shape] = int(max(1, min(most, budget // per_row)))
        return self._rows[shape]

    # -- internals ------------------------------------------------------------------------------

    def _tensor(self, A: np.ndarray) -> Any:
        """The rows as one tensor in the module's dtype and device (channels-last for a
        convolutional network on images): a single cast-and-copy."""
        x = self.torch.from_numpy(np.asarray(A))
        layout = self.torch.preserve_format
        if self.convolutional and x.dim() == 4:
            layout = self.torch.channels_last
        return x.to(device=self.device, dtype=self.dtype, memory_format=layout)

    def _network(self) -> Any:
        """What computes: the module, or its copy with batch norms folded while its weights are
        the module's (rebuilt when they change; the module itself when it cannot be traced)."""
        if not self._foldable:
            return self.module
        tensors = (*self.module.parameters(), *self.module.buffers())
        key = tuple((t.data_ptr(), t._version) for t in tensors)
        if self._folded[0] != key:
            try:
                with warnings.catch_warnings():  # torch's own deprecations, on import
                    warnings.simplefilter("ignore")
                    from torch.fx.experimental.optimization import fuse

                    folded = fuse(self.module)
                folded.requires_grad_(False)
            except Exception:  # noqa: BLE001 -- any module torch.fx cannot trace runs as it is
                folded = self.module
            self._folded = (key, folded)
        return self._folded[1]

    def _forward(self, x: Any) -> Any:
        out = self._network()(x)
        out = out.reshape(out.shape[0], -1)
        return out[:, select_column(out.shape[1], self.target)]

    def _to_numpy(self, t: Any) -> np.ndarray:
        torch = self.torch
        host = t.to(device="cpu", dtype=torch.float64, memory_format=torch.contiguous_format)
        return np.asarray(host.numpy())

    @contextlib.contextmanager
    def _frozen(self) -> Iterator[None]:
        """The module's parameters without requires_grad for one call (autograd then builds and
        keeps nothing for the weights), restored afterwards."""
        live = [p for p in self._network().parameters() if p.requires_grad]
        for p in live:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in live:
                p.requires_grad_(True)

    def _saved_bytes(self, shape: tuple[int, ...]) -> int:
        """Bytes autograd saves for the backward of one row of `shape` (the module's own weights
        left out: they are there once, whatever the batch), plus the row's input, output and
        gradient."""
        torch = self.torch
        net = self._network()
        weights = {t.data_ptr() for t in (*net.parameters(), *net.buffers())}
        saved = [0]

        def pack(t: Any) -> Any:
            if t.data_ptr() not in weights:
                saved[0] += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            self.values_and_gradients(np.zeros((1, *shape)))
        return int(saved[0] + 3 * int(np.prod(shape)) * self.dtype.itemsize)
