"""The papers' experiments, run with gradlime's public API (``gradlime reproduce``).

``paper1``: Agarwal et al., "Towards the Unification and Robustness of Perturbation and Gradient
Based Explanations" (../shared/papers), section 6: the equivalence of SmoothGrad and C-LIME and
their robustness against the number of perturbations. Training needs torch (the ``torch``
extra); figures need matplotlib.
"""

from __future__ import annotations

from .paper1 import run as run_paper1

__all__ = ["run_paper1"]
