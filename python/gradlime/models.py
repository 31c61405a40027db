"""Models the engine can explain: numpy callables, with or without a gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import default_batch_rows, positive_int, real_array, select_column

__all__ = ["Model", "as_model"]

ArrayFn = Callable[[np.ndarray], Any]


class Model:
    """A model f: R^d -> R evaluated on batches, optionally with its gradient.

    Parameters
    ----------
    f : callable
        Maps a float64 C-contiguous array of shape (m, d) to m outputs, shape (m,).
    grad : callable, optional
        Maps the same (m, d) array to the gradients of f, shape (m, d). Needed by ``smoothgrad``.
    batch_size : int, optional
        Most rows handed to ``f``/``grad`` in one call. Defaults to 8192 (fewer when d is so large
        that the batch would exceed 64 MiB).

    Examples
    --------
    >>> import numpy as np, gradlime as gl
    >>> w = np.array([1.0, -2.0])
    >>> model = gl.Model(lambda A: A @ w, grad=lambda A: np.broadcast_to(w, A.shape))
    >>> gl.smoothgrad(model, [0.5, 0.5], n_samples=100).values
    array([ 1., -2.])
    """

    #: How the model is evaluated: "python" (callables), "native" (C++ network), "onnxruntime",
    #: "torch" or "sklearn".
    engine: str = "python"
    #: Why there is no gradient, for models that cannot have one (``smoothgrad`` says it).
    no_gradient_reason: str | None = None
    #: Features the model takes, when it says (ONNX models); None for plain callables.
    n_features: int | None = None
    _network: Any = None  # _core.FeedForwardNetwork for native models
    _layers: Any = None  # its layers, as parsed (_onnx.OnnxGraph.layers), for gl.theory
    _target: int = 0
    # Values and gradients from one call (A -> (values, grads)), when the model has it (torch)
    _value_and_grad: ArrayFn | None = None
    # Rows per batch for points of a shape, when the model sizes its own batches (torch)
    _batch_rows_for: Callable[[tuple[int, ...]], int] | None = None
    # The torch device a torch model runs on ("cpu", "cuda", ...); None for other models
    _device_type: str | None = None

    def __init__(
        self, f: ArrayFn, grad: ArrayFn | None = None, *, batch_size: int | None = None
    ) -> None:
        if not callable(f):
            raise TypeError(f"f must be callable (m, d) -> (m,); got {type(f).__name__}")
        if grad is not None and not callable(grad):
            raise TypeError(
                f"grad must be callable (m, d) -> (m, d) or None; got {type(grad).__name__}"
            )
        self.f = f
        self.grad = grad
        self.batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")

    @property
    def has_gradient(self) -> bool:
        return self.grad is not None

    def __call__(self, X: Any) -> np.ndarray:
        """Evaluate f on a batch (m, d); returns (m,)."""
        A = self._batch(X)
        return _checked_output(self.f(A), A, "f")

    def gradient(self, X: Any) -> np.ndarray:
        """The gradient of f on a batch (m, d); returns (m, d)."""
        if self.grad is None:
            raise ValueError(
                self.no_gradient_reason or "this model has no gradient: pass grad= to gl.Model"
            )
        A = self._batch(X)
        return _checked_output(self.grad(A), A, "grad")

    def rows_per_batch(self, d: int) -> int:
        """Rows per model call for points of d features: ``batch_size``, else the model's own
        sizing (torch: from its memory per row), else 8192 (fewer past 64 MiB a batch)."""
        if self.batch_size:
            return self.batch_size
        if self._batch_rows_for is not None:
            return self._batch_rows_for((d,))
        return default_batch_rows(d)

    def _engine_args(self) -> dict[str, Any]:
        """How the compiled engine reaches this model: its native network (no Python per
        batch) or its callables."""
        if self._network is not None:
            return {"f": None, "grad": None, "network": self._network, "target": self._target}
        return {"f": self.f, "grad": self.grad, "network": None, "target": 0}

    def _batch(self, X: Any) -> np.ndarray:
        A = np.ascontiguousarray(real_array(X, "a batch"))
        if A.ndim != 2:
            raise ValueError(f"a batch must have shape (m, d); got {A.shape}")
        if self.n_features is not None and A.shape[1] != self.n_features:
            raise ValueError(
                f"the model takes {self.n_features} features; got a batch of shape {A.shape}"
            )
        return A

    def __reduce__(self) -> Any:
        """A native model travels (pickle, Dask) as its layers and is rebuilt where it lands;
        others as their attributes (their callables by cloudpickle, as Dask sends them)."""
        if self._network is not None:
            return _native_from_layers, (self._layers, self._target, self.batch_size)
        return object.__reduce__(self)

    def __repr__(self) -> str:
        grad = "with gradient" if self.has_gradient else "values only"
        name = getattr(self.f, "__name__", type(self.f).__name__)
        return (
            f"gradlime.Model({name}, {grad}, engine={self.engine!r}, batch_size={self.batch_size})"
        )

    @classmethod
    def from_onnx(
        cls,
        path_or_bytes: Any,
        *,
        target: int | None = None,
        engine: str = "auto",
        batch_size: int | None = None,
    ) -> Model:
        """A model from an ONNX file (a path or its bytes).

        Feed-forward chains (Gemm, MatMul + Add, Relu, LeakyRelu, Elu, Selu, Sigmoid, Tanh,
        Softplus, Softmax/LogSoftmax on the last axis, Identity, Flatten, Dropout) run natively:
        values and exact input gradients (reverse mode) computed in C++ for whole batches, with
        no Python in the loop. Inside ``smoothgrad``/``clime``/``stein``/``explain``, ``lime`` and
        ``kernel_shap`` the network is fused with the sampling: each point's perturbations are
        drawn, evaluated and accumulated in blocks of 64 rows on one thread, points in parallel
        (when there are at least as many points as threads), with the same results to the bit as
        the batched path. The network computes in float32, the precision ONNX models are stored
        in; the estimators accumulate in float64. Other graphs run through onnxruntime, which
        gives values only: ``clime``, ``stein``, ``lime`` and ``kernel_shap`` work,
        ``smoothgrad`` does not. Their input may have any shape (batch, ...) with fixed
        dimensions after the batch, such as images (batch, C, H, W): points of that shape are
        explained as any model's (``X`` of shape (N, C, H, W)); flat rows are reshaped.

        Parameters
        ----------
        path_or_bytes : str, os.PathLike or bytes
        target : int, optional
            The output column to explain; a model with one output needs none.
        engine : {"auto", "native", "onnxruntime"}
            "native" raises (naming the operators) when the graph is not a supported chain.
        batch_size : int, optional
            Rows per evaluation (see ``gl.Model``) where rows are batched: calls of the model
            itself and the batched path; the fused explainers work in blocks of 64 rows.

        Examples
        --------
        >>> import numpy as np, gradlime as gl
        >>> from onnx import TensorProto, helper, numpy_helper
        >>> W = numpy_helper.from_array(np.array([[1.0], [-2.0]], dtype=np.float32), "W")
        >>> graph = helper.make_graph(
        ...     [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
        ...     "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], [W])
        >>> model = gl.Model.from_onnx(helper.make_model(graph).SerializeToString())
        >>> model.engine
        'native'
        >>> model.gradient(np.zeros((1, 2)))
        array([[ 1., -2.]])
        """
        from . import _onnx

        if engine not in ("auto", "native", "onnxruntime"):
            raise ValueError(f"engine must be 'auto', 'native' or 'onnxruntime'; got {engine!r}")
        g = _onnx.parse(_onnx.load_bytes(path_or_bytes))
        model: Model
        if engine == "native" and g.network is None:
            raise ValueError(f"engine='native' cannot run this graph: {g.not_native}")
        if g.network is not None and engine != "onnxruntime":
            return cls._native(g.network, g.layers, target, batch_size)
        f = _onnx.onnxruntime_function(g, target)
        model = cls(f, batch_size=batch_size)
        model.engine, model.n_features = "onnxruntime", g.n_features
        why = g.not_native or "engine='onnxruntime' was asked for"
        model.no_gradient_reason = (
            f"this ONNX model runs through onnxruntime ({why}), which gives no exact gradient; "
            "use gl.clime or gl.stein, which need only values"
        )
        return model

    @classmethod
    def _native(cls, net: Any, layers: Any, target: int | None, batch_size: int | None) -> Model:
        """The model of a native network: evaluated and differentiated in C++, no Python per
        batch on the engine's paths."""
        column = select_column(net.output_dim, target)
        model = cls(
            lambda A: net.evaluate(A, column)[0],
            grad=lambda A: net.evaluate(A, column, True)[1],
            batch_size=batch_size,
        )
        model.engine, model._network, model._target = "native", net, column
        model._layers = list(layers)
        model.n_features = net.input_dim
        return model

    @classmethod
    def from_torch(
        cls,
        module: Any,
        *,
        target: int | None = None,
        device: Any = None,
        batch_size: int | None = None,
    ) -> Model:
        """A model from a torch ``nn.Module``; its autograd gives the gradient.

        The module is put in eval mode and run in its parameters' dtype on ``device`` (default:
        where its parameters are; a device given moves the module there, in place, as
        ``module.to`` does). Inputs of any shape: X of shape (N, C, H, W) reaches the module as
        such (channels-last for convolutional networks), and the attributions come back in X's
        shape. Each batch is one tensor in the module's dtype, the forward and backward run with
        the parameters frozen (no weight gradients), values and gradients from one pass when
        both are wanted. Without ``batch_size``, batches are sized from the memory autograd
        saves for one input (256 MiB a batch on the CPU, a quarter of the free memory on a GPU).
        The draws are the engine's, as for every model: a float64 module gives the numpy path's
        numbers, a float32 one the same to float rounding. torch is an optional dependency,
        imported only here.

        Examples
        --------
        >>> import torch, gradlime as gl
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 1))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.copy_(torch.tensor([[1.0, -2.0]]))
        >>> gl.gradient(gl.Model.from_torch(net), [[0.5, 0.5]]).values
        array([[ 1., -2.]])
        """
        from ._torch import TorchRunner

        runner = TorchRunner(module, target, device)
        model = cls(runner.values, grad=runner.gradients, batch_size=batch_size)
        model.engine = "torch"
        model._value_and_grad = runner.values_and_gradients
        model._batch_rows_for = runner.batch_rows
        model._device_type = runner.device.type
        return model

    @classmethod
    def from_sklearn(
        cls,
        estimator: Any,
        *,
        target: int | None = None,
        engine: str = "auto",
        batch_size: int | None = None,
    ) -> Model:
        """A model from a fitted scikit-learn estimator: ``predict_proba`` (column ``target``)
        when it has one, else ``predict``.

        ``MLPRegressor``, ``MLPClassifier``, ``LogisticRegression`` and the linear regressors,
        alone or after ``StandardScaler`` steps in a ``Pipeline``, run natively (in float32, as
        native ONNX networks do) with exact gradients; ``engine="native"`` says why another
        estimator cannot. Others (``engine="python"``, or "auto" for them) are called through
        their own methods and have no gradient: use ``clime``, ``stein``, ``lime`` or
        ``kernel_shap``. An estimator fitted on a DataFrame is then called with DataFrames of
        its own column names (``feature_names_in_``), so it sees what it was fitted on.

        Examples
        --------
        >>> import numpy as np, gradlime as gl
        >>> from sklearn.linear_model import LinearRegression
        >>> est = LinearRegression().fit([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [1.0, 3.0, -1.0])
        >>> m = gl.Model.from_sklearn(est)
        >>> m.engine, np.round(m.gradient(np.zeros((1, 2))), 6)
        ('native', array([[ 2., -2.]]))
        """
        from . import _sklearn

        if engine not in ("auto", "native", "python"):
            raise ValueError(f"engine must be 'auto', 'native' or 'python'; got {engine!r}")
        if engine != "python":
            try:
                layers = _sklearn.layers_of(estimator)
            except _sklearn.NotNative as exc:
                if engine == "native":
                    raise ValueError(f"engine='native' cannot run this estimator: {exc}") from exc
            except AttributeError as exc:  # an unfitted estimator has no coef_ or coefs_
                raise ValueError(f"{type(estimator).__name__} is not fitted: {exc}") from exc
            else:
                return cls._native(network_of(layers), layers, target, batch_size)
        predict = getattr(estimator, "predict_proba", None) or getattr(estimator, "predict", None)
        if predict is None:
            raise TypeError(f"{type(estimator).__name__} has neither predict_proba nor predict")
        columns = getattr(estimator, "feature_names_in_", None)
        frame = None
        if columns is not None:
            import pandas as pd  # scikit-learn only has feature names when pandas gave them

            frame = pd.DataFrame

        def f(A: np.ndarray) -> np.ndarray:
            batch = A if frame is None else frame(A, columns=columns, copy=False)
            out = np.asarray(predict(batch), dtype=np.float64).reshape(len(A), -1)
            return out[:, select_column(out.shape[1], target)]

        model = cls(f, batch_size=batch_size)
        model.engine = "sklearn"
        model.n_features = getattr(estimator, "n_features_in_", None)
        model.no_gradient_reason = (
            "a scikit-learn estimator has no gradient; use gl.clime or gl.stein, "
            "which need only values"
        )
        return model


def network_of(layers: list[tuple[Any, ...]]) -> Any:
    """The native network (_core.FeedForwardNetwork) of parsed layers: ("dense", W (out, in),
    b) and ("act", kind, alpha, gamma)."""
    from . import _core

    net = _core.FeedForwardNetwork(int(layers[0][1].shape[1]))
    for layer in layers:
        if layer[0] == "dense":
            net.add_dense(np.ascontiguousarray(layer[1]), layer[2])
        else:
            net.add_activation(layer[1], layer[2], layer[3])
    return net


def _native_from_layers(layers: Any, target: int, batch_size: int | None) -> Model:
    return Model._native(network_of(layers), layers, target, batch_size)


def as_model(model: Any) -> Model:
    """A gl.Model as is; a plain callable wrapped as ``gl.Model(f)``."""
    if isinstance(model, Model):
        return model
    if callable(model):
        return Model(model)
    raise TypeError(
        f"model must be a gradlime.Model or a callable (m, d) -> (m,); got {type(model).__name__}"
    )


def _checked_output(out: Any, A: np.ndarray, what: str) -> np.ndarray:
    """The one check of what a model's callable returned for the batch A (m, d), as the engine
    checks it: f gives (m,) (or (m, 1)) real values, grad (m, d) real and finite gradients (the
    error names the row). Whether a non-finite value is an error is the caller's to say: the
    engine and the metrics name the point it came from."""
    m, d = A.shape
    arr = real_array(out, f"model {what}'s output")
    expected: tuple[int, ...] = (m,) if what == "f" else (m, d)
    if what == "f" and arr.shape == (m, 1):
        arr = arr[:, 0]
    if arr.shape != expected:
        raise ValueError(
            f"model {what} returned shape {arr.shape} for a batch of {m} rows; expected {expected}"
        )
    bad = ~np.isfinite(arr)
    if what == "grad" and bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"model grad returned a non-finite gradient at row {row} of the batch")
    return arr


def in_batches(fn: Any, m: Model, A: np.ndarray) -> np.ndarray:
    """fn (the model or its gradient) on any number of rows, in batches of the model's size."""
    step = m.rows_per_batch(A.shape[1])
    return np.concatenate([fn(A[i : i + step]) for i in range(0, len(A), step)])
