"""The papers' experiments, run with gradlime's public API (``gradlime reproduce``).

``paper1``: Agarwal et al., "Towards the Unification and Robustness of Perturbation and Gradient
Based Explanations" (../shared/papers), section 6: the equivalence of SmoothGrad and C-LIME and
their robustness against the number of perturbations, and their sensitivity to sigma^2 and to
the model's accuracy. ``paper2``: Robust explanation for free or at the cost of faithfulness,
sections 5-6 at small scale (the toy function, Table 1's analogue, SmoothGrad against sigma).
Training needs torch (the ``torch`` extra) and scikit-learn; figures need matplotlib.
"""

from __future__ import annotations

from .paper1 import run as run_paper1
from .paper2 import run as run_paper2

__all__ = ["run_paper1", "run_paper2"]
