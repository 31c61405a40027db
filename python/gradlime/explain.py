"""One pass of perturbations feeding several estimators (paper 1, Theorem 1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._engine import one_pass
from ._labels import labelled
from .registry import REGISTRY
from .result import Explanation

__all__ = ["METHODS", "explain"]

#: The methods one pass can compute together: the engine's estimators over a Gaussian.
METHODS = tuple(s.name for s in REGISTRY.values() if s.family == "gaussian" and s.estimator)


@labelled
def explain(
    model: Any,
    X: Any,
    methods: Iterable[str] = METHODS,
    *,
    sigma: Any = 1.0,
    cov: Any = None,
    n_samples: int = 1000,
    ridge: float = 0.0,
    antithetic: bool = False,
    qmc: bool | int = False,
    control_variate: bool = False,
    tol: float | None = None,
    max_samples: int | None = None,
    seed: int = 0,
    device: Any = None,
) -> dict[str, Explanation]:
    """Several Gaussian-neighbourhood estimators from one shared set of perturbations.

    SmoothGrad, C-LIME and the gradient-free (Stein) SmoothGrad estimate the same vector
    E[grad f(a)] = Sigma^-1 cov(a, f(a)), a ~ N(x, Sigma) (paper 1, Theorem 1). One call draws the
    perturbations once and feeds every requested estimator; the draws are the same as each single
    call's with the same seed, so ``explain(...)["clime"]`` equals ``clime(...)`` bit for bit.

    Parameters
    ----------
    model : gl.Model or callable
        ``f(A) -> (m,)`` on float64 arrays (m, d); ``smoothgrad`` also needs ``grad=``.
    X : array_like, shape (N, d) or (d,)
        Points to explain.
    methods : iterable of str
        Any of ``"smoothgrad"``, ``"clime"``, ``"stein"``.
    sigma : float or array_like (d,)
        Standard deviation of the Gaussian perturbations (per feature if a vector).
    cov : array_like (d, d), optional
        A full covariance for the perturbations; overrides ``sigma``.
    n_samples : int
        Perturbations per point.
    ridge : float
        L2 penalty of C-LIME on the mean squared loss (paper 1, Appendix D).
    antithetic : bool
        Draw the perturbations in pairs e, -e (``n_samples`` even). Every estimator stays
        unbiased; the pairs are the standard errors' independent units (C-LIME's sandwich is
        clustered by pair). SmoothGrad loses what is odd in the gradient around x (it is exact
        for a quadratic f), C-LIME what is even in f (exact for a linear-plus-even f), Stein what
        is even in f; but Stein's terms are even in e where f is near linear, so a pair is one
        unit where two draws were two, and there it does worse (bench/RESULTS.md).
    qmc : bool or int
        Randomised quasi-Monte Carlo: scrambled Sobol' points (random linear scramble and digital
        shift, Matousek 1998) mapped to the neighbourhood by the normal quantile. ``True`` draws
        8 independent scrambles, an int R (2, 4, 8, 16 or 32) draws R; sample j is point j // R
        of scramble j % R, and ``n_samples`` must be a multiple of R (of 2R with
        ``antithetic=True``, which mirrors each point). Every estimator stays unbiased, and the
        standard errors are the spread of the R scrambles' estimates (t with R - 1 degrees of
        freedom). On a model with a gradient each point's points are reflected so that their
        first coordinate (the Sobol' sequence's best) lies along the gradient at x (one gradient
        evaluation per point, before sampling; Imai & Tan's linear transformation), so the same
        seed draws differently for a model with and without ``grad=``. Errors fall faster than
        1 / sqrt(n) on smooth models (bench/RESULTS.md); powers of two per scramble are best.
    control_variate : bool
        Stein with a cross-fitted linear control variate (``gl.stein``); the other estimators are
        unchanged.
    tol : float, optional
        An adaptive sample size: each point stops as soon as every requested estimator's
        standard errors are <= tol (SmoothGrad's are read after every 64 samples; Stein's and
        C-LIME's, which need a pass over the point's samples, after 128 x 2^k), after 128
        samples at least, and at ``max_samples`` (default ``n_samples``) at the most.
        ``E.samples_per_point`` says what each used. The stop is a function of the point's own
        draws: the same bits for any thread count, batch size or chunking.
    max_samples : int, optional
        The most samples a point may take with ``tol``.
    seed : int
        Seed of the counter-based generator; results are bitwise reproducible from it.
    device : None, "cpu", "cuda" or "cuda:N"
        Where to run. On a CUDA device a native network (``gl.Model.from_onnx``, scikit-learn
        MLPs) is explained by the CUDA backend: the same draws, the network and each point's sums
        on the GPU, only the (N, d) results copied back; SmoothGrad, C-LIME and Stein with Monte
        Carlo draws from a diagonal Gaussian (other options say so). A torch model runs on its own
        device (``gl.Model.from_torch(module, device="cuda")``). ``gl.cuda_available()`` says
        whether this build and machine have a GPU to offer.

    Returns
    -------
    dict[str, Explanation]

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> f = lambda A: np.sin(A).sum(axis=1)
    >>> model = gl.Model(f, grad=np.cos)
    >>> E = gl.explain(model, np.zeros((3, 2)), n_samples=4000, sigma=0.5)
    >>> sorted(E)
    ['clime', 'smoothgrad', 'stein']
    >>> bool(np.allclose(E["smoothgrad"].values, np.exp(-0.125), atol=0.02))
    True
    """
    if not isinstance(methods, str | Iterable):
        raise TypeError(f"methods must be method names from {METHODS}; got {methods!r}")
    wanted = (methods,) if isinstance(methods, str) else tuple(methods)
    if not wanted or any(name not in METHODS for name in wanted):
        raise ValueError(f"methods must be a non-empty subset of {METHODS}; got {wanted!r}")
    estimators = tuple(e for e in (REGISTRY[name].estimator for name in wanted) if e)
    out = one_pass(
        model,
        X,
        estimators,
        scale=sigma,
        cov=cov,
        n_samples=n_samples,
        ridge=ridge,
        antithetic=antithetic,
        qmc=qmc,
        control_variate=control_variate,
        tol=tol,
        max_samples=max_samples,
        seed=seed,
        device=device,
    )
    return {name: out[est] for name, est in zip(wanted, estimators, strict=True)}
