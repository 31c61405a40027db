"""Closed forms and bounds from the two papers, each with the statement it transcribes.

Paper 1: Agarwal et al., "Towards the Unification and Robustness of Perturbation and Gradient
Based Explanations" (ICML 2021). Paper 2: "Robust Explanation for Free or At the Cost of
Faithfulness" (ICML 2023). Functions named ``*_order`` return the expression inside an O(); the
others are bounds with their constants.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._validation import nonnegative_float, positive_float

__all__ = [
    "clime_ridge",
    "clime_samples",
    "grad_x_input_lipschitz_bound",
    "gradient_lipschitz_bound",
    "integrated_gradients_lipschitz_bound",
    "lime_lipschitz_order",
    "network_lipschitz_bound",
    "shap_lipschitz_bound",
    "shap_lipschitz_order",
    "smoothgrad_lipschitz_bound",
    "smoothgrad_lipschitz_bound_from_gradient",
    "smoothgrad_lipschitz_order",
    "smoothgrad_samples",
]


def _probability(delta: Any) -> float:
    try:
        v = float(delta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"delta must be a number; got {type(delta).__name__}") from exc
    if not 0.0 < v < 1.0:
        raise ValueError(f"delta is a failure probability and must be in (0, 1); got {delta!r}")
    return v


def _dimension(d: Any) -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"d must be an integer >= 1 (the number of features); got {d!r}")
    return int(d)


# --- Robustness: Lipschitz constants of explanations --------------------------------------------


def smoothgrad_lipschitz_bound(model_lipschitz: float, sigma: float) -> float:
    """SmoothGrad's Lipschitz constant for an L-Lipschitz model: sqrt(2 / (pi sigma^2)) L.

    Paper 2, Theorem C.7 (the constant behind Theorem 4.1's O(L / sigma)), for
    Sigma = sigma^2 I. It is tight: f(x) = |x| in 1-D has SmoothGrad 2 Phi(x / sigma) - 1, whose
    slope at 0 is sqrt(2 / pi) / sigma.

    Examples
    --------
    >>> from gradlime import theory
    >>> round(theory.smoothgrad_lipschitz_bound(1.0, 0.5), 6)  # sqrt(2/pi) / 0.5
    1.595769
    """
    L = nonnegative_float(model_lipschitz, "model_lipschitz")
    s = positive_float(sigma, "sigma")
    return math.sqrt(2.0 / math.pi) * L / s


def smoothgrad_lipschitz_bound_from_gradient(grad_max: float, sigma: float) -> float:
    """Paper 1, Theorem 2, as stated: SmoothGrad and C-LIME are grad_max / (2 sigma)-Lipschitz.

    ``grad_max`` bounds ||grad f||_2 and Sigma = sigma^2 I.

    Warning: the stated constant is too small by a factor of 2 sqrt(2 / pi) ~ 1.6. Paper 1's
    Lemma 5 bounds ||E X - E Y|| by a_max * d_TV with d_TV = int |X - Y|, but that integral is
    2 d_TV, so Pinsker gives grad_max / sigma. f(x) = |x| (grad_max = 1) is a counterexample to the
    statement: its SmoothGrad 2 Phi(x / sigma) - 1 has slope sqrt(2 / pi) / sigma ~ 0.80 / sigma
    at 0. A model with ||grad f|| <= grad_max is grad_max-Lipschitz, so
    ``smoothgrad_lipschitz_bound(grad_max, sigma)`` (paper 2, Thm C.7) is the certified, tight
    constant; use this function only to reproduce paper 1.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.smoothgrad_lipschitz_bound_from_gradient(3.0, 0.5)
    3.0
    """
    g = nonnegative_float(grad_max, "grad_max")
    s = positive_float(sigma, "sigma")
    return g / (2.0 * s)


def smoothgrad_lipschitz_order(model_lipschitz: float, sigma: float) -> float:
    """Paper 2, Theorem 4.1: L_SG = O(L / sigma); returns L / sigma.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.smoothgrad_lipschitz_order(2.0, 0.5)
    4.0
    """
    return nonnegative_float(model_lipschitz, "model_lipschitz") / positive_float(sigma, "sigma")


def lime_lipschitz_order(
    model_lipschitz: float, d: int, lam: float, sigma: float, beta: float, R: float
) -> float:
    """Paper 2, Theorem 4.1 (proof: Theorem C.10): LIME with an L2 penalty lam and the kernel
    exp(-||x - z||^2 / sigma^2) is O(.)-Lipschitz with the returned expression

        sqrt(d) L / lam + beta R (lam + d) sqrt(d) / (lam^2 sigma^2) * exp(2 beta / sigma^2),

    where ||x||_2 <= beta on the domain and |f| <= R.

    Examples
    --------
    >>> from gradlime import theory
    >>> round(theory.lime_lipschitz_order(1.0, 4, lam=1.0, sigma=2.0, beta=1.0, R=1.0), 6)
    6.121803
    """
    L = nonnegative_float(model_lipschitz, "model_lipschitz")
    n = _dimension(d)
    lam_ = positive_float(lam, "lam")
    s = positive_float(sigma, "sigma")
    b = nonnegative_float(beta, "beta")
    r = nonnegative_float(R, "R")
    root_d = math.sqrt(n)
    return root_d * L / lam_ + b * r * (lam_ + n) * root_d / (lam_**2 * s**2) * math.exp(
        2.0 * b / s**2
    )


def shap_lipschitz_order(model_lipschitz: float, d: int) -> float:
    """Paper 2, Theorem 4.1: L_SHAP = O(sqrt(d) L); returns sqrt(d) L.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.shap_lipschitz_order(1.5, 4)
    3.0
    """
    return math.sqrt(_dimension(d)) * nonnegative_float(model_lipschitz, "model_lipschitz")


def shap_lipschitz_bound(model_lipschitz: float, d: int) -> float:
    """Paper 2, Theorem C.11 (the constant behind Thm 4.1's SHAP order): 2 sqrt(d) L.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.shap_lipschitz_bound(1.5, 4)
    6.0
    """
    return 2.0 * shap_lipschitz_order(model_lipschitz, d)


def gradient_lipschitz_bound(smoothness: float) -> float:
    """Paper 2, Theorem C.15: the Gradient of an H-smooth model is H-Lipschitz.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.gradient_lipschitz_bound(2.0)
    2.0
    """
    return nonnegative_float(smoothness, "smoothness")


def grad_x_input_lipschitz_bound(smoothness: float, model_lipschitz: float, beta: float) -> float:
    """Paper 2, Theorem C.16: Gradient x Input is (beta H + L)-Lipschitz, ||x||_2 <= beta.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.grad_x_input_lipschitz_bound(2.0, 1.0, beta=3.0)
    7.0
    """
    H = nonnegative_float(smoothness, "smoothness")
    return nonnegative_float(beta, "beta") * H + nonnegative_float(
        model_lipschitz, "model_lipschitz"
    )


def integrated_gradients_lipschitz_bound(
    smoothness: float, model_lipschitz: float, beta: float
) -> float:
    """Paper 2, Theorem C.14: Integrated Gradients is (beta H + 2 L) / 2-Lipschitz,
    ||x||_2 <= beta.

    Examples
    --------
    >>> from gradlime import theory
    >>> theory.integrated_gradients_lipschitz_bound(2.0, 1.0, beta=3.0)
    4.0
    """
    H = nonnegative_float(smoothness, "smoothness")
    b = nonnegative_float(beta, "beta")
    return (b * H + 2.0 * nonnegative_float(model_lipschitz, "model_lipschitz")) / 2.0


# --- Convergence: perturbations needed --------------------------------------------------------


def smoothgrad_samples(grad_max: float, eps: float, delta: float, d: int, C: float = 1.0) -> float:
    """Paper 1, Proposition 1: n >= C (grad_max / eps)^2 ln(d / delta) gradient samples give
    ||SG_n(x) - SG(x)||_2 <= eps with probability >= 1 - delta.

    ``C`` is the proposition's unspecified absolute constant. Returns the real-valued bound; round
    it up for a sample count.

    Examples
    --------
    >>> from gradlime import theory
    >>> round(theory.smoothgrad_samples(2.0, 0.1, 0.05, d=10), 3)  # 400 ln(200)
    2119.327
    """
    g = nonnegative_float(grad_max, "grad_max")
    e = positive_float(eps, "eps")
    p = _probability(delta)
    c = positive_float(C, "C")
    return c * (g / e) ** 2 * math.log(_dimension(d) / p)


def clime_samples(
    d: int, eps: float, delta: float, sigma: float, x_norm: float, C: float = 1.0
) -> float:
    """Paper 1, Theorem 3: for f with values in [-1, 1] and Sigma = sigma^2 I,

        n >= C d ln(d / delta) / min(eps sigma^2, eps sigma^3 / ||x||_2, ||x||_2, 1 / sigma^2)^2

    perturbations give ||C-LIME_n(x) - C-LIME(x)||_2 <= eps with probability >= 1 - delta.

    ``C`` is the theorem's unspecified absolute constant. ``x_norm`` = ||x||_2 must be > 0: the
    bound is infinite at x = 0. Returns the real-valued bound.

    Examples
    --------
    >>> from gradlime import theory
    >>> round(theory.clime_samples(5, eps=0.1, delta=0.05, sigma=1.0, x_norm=1.0), 2)
    2302.59
    """
    n = _dimension(d)
    e = positive_float(eps, "eps")
    p = _probability(delta)
    s = positive_float(sigma, "sigma")
    xn = positive_float(x_norm, "x_norm")
    c = positive_float(C, "C")
    m = min(e * s**2, e * s**3 / xn, xn, 1.0 / s**2)
    return c * n * math.log(n / p) / m**2


# --- Closed forms ----------------------------------------------------------------------------


def clime_ridge(cov_af: Any, Sigma: Any, lam: float) -> np.ndarray:
    """C-LIME with an L2 penalty lam, in closed form: (Sigma + lam I)^-1 cov(a, f(a))
    (paper 1, Lemma 6; a ~ N(x, Sigma)). lam = 0 gives Sigma^-1 cov(a, f(a)) = SmoothGrad
    (paper 1, Theorem 1).

    Parameters
    ----------
    cov_af : array_like, shape (d,)
        cov(a_i, f(a)) for each feature.
    Sigma : array_like, shape (d, d) or a scalar variance sigma^2 (meaning sigma^2 I)
    lam : float, >= 0

    Examples
    --------
    >>> import numpy as np
    >>> from gradlime import theory
    >>> theory.clime_ridge([2.0, -1.0], np.diag([1.0, 0.5]), lam=1.0)
    array([ 1.        , -0.66666667])
    """
    c = np.asarray(cov_af, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.isfinite(c).all():
        raise ValueError(f"cov_af must be a finite vector of shape (d,); got shape {c.shape}")
    d = c.size
    S = np.asarray(Sigma, dtype=np.float64)
    if S.ndim == 0:
        S = float(positive_float(S, "Sigma")) * np.eye(d)
    if S.shape != (d, d) or not np.isfinite(S).all():
        raise ValueError(f"Sigma must be a finite ({d}, {d}) matrix or a scalar; got {S.shape}")
    if not np.allclose(S, S.T, rtol=0.0, atol=1e-10 * max(1.0, float(np.abs(S).max()))):
        raise ValueError("Sigma must be a symmetric positive definite covariance; not symmetric")
    la = nonnegative_float(lam, "lam")
    A = S + la * np.eye(d)
    try:
        np.linalg.cholesky(A)
    except np.linalg.LinAlgError as exc:
        raise ValueError("Sigma + lam I is not positive definite") from exc
    return np.linalg.solve(A, c)


# --- Certified Lipschitz constant of a native network ---------------------------------------


def _activation_lipschitz(kind: str, alpha: float, gamma: float, width: int) -> float:
    """A Lipschitz constant (2-norm) of one activation layer as a map R^width -> R^width."""
    if kind in ("relu", "tanh", "softplus"):
        return 1.0
    if kind == "sigmoid":
        return 0.25  # max of s' = s (1 - s)
    if kind == "leaky_relu":
        return max(1.0, abs(alpha))
    if kind == "elu":
        return max(1.0, abs(alpha))  # slope alpha e^z < alpha for z < 0
    if kind == "selu":
        return abs(gamma) * max(1.0, abs(alpha))
    if kind == "softmax":
        # J = diag(s) - s s^T is PSD and u^T J u is the variance of u under the distribution s,
        # at most (max u - min u)^2 / 4 <= 1/2 for a unit u: ||J||_2 <= 1/2.
        return 0.5
    if kind == "log_softmax":
        # J = I - 1 s^T: ||J||_2 <= 1 + ||1||_2 ||s||_2 <= 1 + sqrt(width). (It reaches
        # sqrt(width - 1) as s -> e_1, so no constant such as 2 is safe for wide layers.)
        return 1.0 + math.sqrt(width)
    raise ValueError(f"no Lipschitz constant known for activation {kind!r}")


# A single output t after a softmax head: grad_z s_t = s_t (e_t - s), whose norm is at most
# s_t sqrt((1 - s_t)^2 + (1 - s_t)^2) <= sqrt(2) / 4; after log_softmax: e_t - s, norm <= sqrt(2).
_HEAD_LIPSCHITZ = {"softmax": math.sqrt(2.0) / 4.0, "log_softmax": math.sqrt(2.0)}


def network_lipschitz_bound(model: Any) -> float:
    """A certified upper bound on the 2-norm Lipschitz constant of a native ONNX model's output.

    The product, over the chain, of each dense layer's spectral norm and each activation's
    Lipschitz constant (relu, tanh, softplus 1; sigmoid 1/4; leaky_relu and elu max(1, |alpha|);
    selu |gamma| max(1, |alpha|); softmax 1/2; log_softmax 1 + sqrt(width)). Going backwards from
    the explained output t, element-wise activations keep t, so the last dense layer contributes
    only the norm of its row t; a softmax (log_softmax) head on output t contributes
    sqrt(2) / 4 (sqrt(2)) and the full norm of the dense layer before it. A single dense layer
    gets exactly ||W_t||_2. This L is what paper 2's Theorem 4.1 and Theorem C.7 take as the
    model's Lipschitz constant, e.g. ``smoothgrad_lipschitz_bound(network_lipschitz_bound(m),
    sigma)``.

    Parameters
    ----------
    model : gl.Model
        From ``gl.Model.from_onnx`` with the native engine.

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> from gradlime import theory
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> W = numpy_helper.from_array(np.array([[3.0], [4.0]], dtype=np.float32), "W")
    >>> graph = helper.make_graph(
    ...     [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
    ...     "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [W])
    >>> model = gl.Model.from_onnx(helper.make_model(graph).SerializeToString())
    >>> theory.network_lipschitz_bound(model)  # ||(3, 4)|| * 1
    5.0
    """
    layers = getattr(model, "_layers", None)
    if layers is None:
        raise ValueError(
            "network_lipschitz_bound needs a native network: a gl.Model.from_onnx model that runs "
            f"on the native engine; got {type(model).__name__} (engine "
            f"{getattr(model, 'engine', None)!r})"
        )
    t = int(model._target)
    bound = 1.0
    on_row = True  # still following output t alone backwards through element-wise layers
    width = int(model._network.output_dim)
    for layer in reversed(layers):
        if layer[0] == "dense":
            W = np.asarray(layer[1], dtype=np.float64)
            bound *= float(np.linalg.norm(W[t])) if on_row else float(np.linalg.norm(W, 2))
            on_row, width = False, W.shape[1]
        elif on_row and layer[1] in _HEAD_LIPSCHITZ:
            bound *= _HEAD_LIPSCHITZ[layer[1]]
            on_row = False
        else:
            bound *= _activation_lipschitz(layer[1], layer[2], layer[3], width)
    return bound
