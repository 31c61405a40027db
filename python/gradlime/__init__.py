"""gradlime: fast, reproducible local explanations of machine-learning models.

SmoothGrad, C-LIME and gradient-free SmoothGrad over Gaussian neighbourhoods, computed by a
streaming C++ engine from one set of counter-based random draws; LIME over binary masks.
"""

from __future__ import annotations

import os

# The engine alternates short OpenMP regions with calls into Python/numpy (whose BLAS has threads
# of its own). Spinning OpenMP workers would steal those cores: measured 10x slower at 1024-row
# batches on 2 cores. Only the default changes; a user's OMP_WAIT_POLICY wins. It must be set
# before libgomp loads, i.e. before _core is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from . import _core  # noqa: F401  (fail early, with a hint)
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "gradlime's compiled core (gradlime._core) failed to import; reinstall with "
        "`pip install .` from the source tree (did the C++ build run?)"
    ) from exc

from . import datasets, plots, theory
from ._dask import compute
from ._device import cuda_available, cuda_info
from ._streams import streams_from
from .explain import METHODS, explain
from .lime import lime
from .lipschitz import LipschitzResult, lipschitz
from .methods import clime, smoothgrad, stein, unigrad
from .metrics import faithfulness
from .models import Model
from .paths import grad_x_input, gradient, integrated_gradients
from .result import Explanation
from .shap import kernel_shap
from .smoothing import smoothed
from .tradeoff import TradeoffResult, tradeoff

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "Explanation",
    "LipschitzResult",
    "Model",
    "TradeoffResult",
    "__version__",
    "clime",
    "compute",
    "cuda_available",
    "cuda_info",
    "datasets",
    "explain",
    "faithfulness",
    "grad_x_input",
    "gradient",
    "integrated_gradients",
    "kernel_shap",
    "lime",
    "lipschitz",
    "plots",
    "smoothed",
    "smoothgrad",
    "stein",
    "streams_from",
    "theory",
    "tradeoff",
    "unigrad",
]
