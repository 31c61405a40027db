"""Every public explanation method, one record each: what it needs, where it samples the model,
how its neighbourhood is scaled and which one-pass engine estimator it is.

``explain``, ``lipschitz`` and ``tradeoff`` read their choices of method from here, and the tests
check every record against its function (public, documented, signature).

Examples
--------
>>> from gradlime.registry import REGISTRY
>>> [m.name for m in REGISTRY.values() if not m.needs_gradient]
['clime', 'stein', 'lime', 'kernel_shap']
>>> REGISTRY["unigrad"].estimator, REGISTRY["unigrad"].kernel, REGISTRY["unigrad"].scale
('smoothgrad', 'uniform', 'radius')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._engine import ESTIMATORS
from .lime import lime
from .methods import clime, smoothgrad, stein, unigrad
from .paths import grad_x_input, gradient, integrated_gradients
from .result import Explanation
from .shap import kernel_shap

__all__ = ["FAMILIES", "REGISTRY", "MethodSpec"]

#: Neighbourhood families: where a method evaluates the model around x.
FAMILIES = ("gaussian", "uniform_cube", "binary_masks", "coalitions", "path", "none")
_ENGINE_KERNELS = {"gaussian": "gaussian", "uniform_cube": "uniform"}
_SCALES = ("sigma", "radius")
_NOT_KEYWORDS = ("model", "X", "seed", "feature_names", "progress")  # the last two: every method's


@dataclass(frozen=True)
class MethodSpec:
    """What one public method is.

    Attributes
    ----------
    name : str
        Its public name, ``gl.<name>``.
    function : callable
        ``function(model, X, **keywords) -> Explanation``.
    needs_gradient : bool
        Whether it calls the model's gradient.
    family : str
        Its neighbourhood (one of ``FAMILIES``): Gaussian perturbations, the uniform cube,
        binary feature masks, Shapley coalitions, a path to a baseline, or none (x alone).
    scale : {"sigma", "radius"} or None
        The keyword that sets the neighbourhood's size, if it has one.
    seeded : bool
        Whether it draws at random and takes ``seed=`` (its draws are then a pure function of
        the seed and the point's index).
    estimator : str or None
        The one-pass engine estimator it is (one of ``_engine.ESTIMATORS``), run under
        ``kernel``; None for methods with their own driver.
    """

    name: str
    function: Callable[..., Explanation]
    needs_gradient: bool
    family: str
    scale: str | None
    seeded: bool
    estimator: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}; got {self.family!r}")
        if self.scale is not None and self.scale not in _SCALES:
            raise ValueError(f"{self.name}: scale must be one of {_SCALES} or None")
        if self.estimator is not None and (
            self.estimator not in ESTIMATORS
            or self.family not in _ENGINE_KERNELS
            or self.scale is None
        ):
            raise ValueError(
                f"{self.name}: an engine estimator is one of {ESTIMATORS}, over one of the "
                f"families {tuple(_ENGINE_KERNELS)}, with a scale"
            )

    @property
    def kernel(self) -> str | None:
        """The engine's kernel for an estimator method ("gaussian" or "uniform"), else None."""
        return _ENGINE_KERNELS[self.family] if self.estimator is not None else None

    @property
    def core(self) -> Callable[..., Explanation]:
        """The method without its public wrapper (names, f(x) and progress: ``_labels``), for
        the library's own calls on stacked rows (``lipschitz``)."""
        return getattr(self.function, "__wrapped__", self.function)

    @property
    def keywords(self) -> Mapping[str, Any]:
        """Its keyword parameters other than ``seed``, with their defaults, in order."""
        sig = inspect.signature(self.function)
        return {k: p.default for k, p in sig.parameters.items() if k not in _NOT_KEYWORDS}


_SPECS = (  # name, function, needs_gradient, family, scale, seeded, estimator
    MethodSpec("smoothgrad", smoothgrad, True, "gaussian", "sigma", True, "smoothgrad"),
    MethodSpec("clime", clime, False, "gaussian", "sigma", True, "clime"),
    MethodSpec("stein", stein, False, "gaussian", "sigma", True, "stein"),
    # UniGrad is SmoothGrad under the uniform kernel (paper 2, Thm 4.3).
    MethodSpec("unigrad", unigrad, True, "uniform_cube", "radius", True, "smoothgrad"),
    MethodSpec("lime", lime, False, "binary_masks", None, True),
    MethodSpec("kernel_shap", kernel_shap, False, "coalitions", None, True),
    MethodSpec("gradient", gradient, True, "none", None, False),
    MethodSpec("grad_x_input", grad_x_input, True, "none", None, False),
    MethodSpec("integrated_gradients", integrated_gradients, True, "path", None, False),
)

#: The records by name, in the order the public API lists them.
REGISTRY: Mapping[str, MethodSpec] = MappingProxyType({s.name: s for s in _SPECS})
