"""Metrics by Keras name: each gives a per-batch mean; the epoch value is the sample-weighted mean
of those, passed through `result` (the square root, for rmse).

Used on their own, metrics follow Keras' stateful API: `m.update_state(y_true, y_pred)`,
`m.result()`, `m.reset_state()`, or `m(y_true, y_pred)` (update, then the result so far).
"""
import math

import torch

from ..errors import LstmkitError
from . import losses as losses_
from .losses import _match


class Metric:
    """Base class: `batch(y_pred, y_true) -> scalar tensor` (a mean over the batch), used by fit.

    Args:
        name: the name fit logs it under (Keras' keyword; Keras' default name otherwise).
        dtype: accepted for Keras compatibility.

    Example:
        >>> import torch
        >>> m = MeanAbsoluteError()
        >>> m.update_state(torch.zeros(2, 1), torch.ones(2, 1))  # (y_true, y_pred), as Keras
        >>> float(m.result())
        1.0
    """
    name = "metric"

    def __init__(self, name=None, dtype=None):
        if name is not None:
            self.name = str(name)
        self.dtype = dtype

    def finish(self, mean: float) -> float:
        """The reported value from the sample-weighted mean of per-batch values."""
        return mean

    def result(self, mean=None):
        """`finish(mean)`; without `mean`, Keras' stateful result of the updates so far (a tensor)."""
        if mean is not None:
            return self.finish(mean)
        total, count = getattr(self, "_state", (0.0, 0))
        return torch.tensor(self.finish(total / count) if count else 0.0)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch, called as Keras calls it: (y_true, y_pred)."""
        if sample_weight is not None:
            raise LstmkitError(f"sample_weight: {self.name}.update_state takes no sample weights; "
                               "got some (pass them to fit instead)")
        y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
        with torch.no_grad():
            value = float(self.batch(y_pred, y_true))
        total, count = getattr(self, "_state", (0.0, 0))
        n = len(y_pred) if y_pred.dim() else 1
        self._state = (total + value * n, count + n)

    def reset_state(self):
        self._state = (0.0, 0)

    reset_states = reset_state

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": getattr(self, "dtype", None)}


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def batch(self, y_pred, y_true):
        return (y_pred - _match(y_pred, y_true).to(y_pred.dtype)).square().mean()


class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the epoch's mean squared error (not the mean of per-batch roots, as in Keras)."""
    name = "root_mean_squared_error"

    def finish(self, mean):
        return math.sqrt(mean)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def batch(self, y_pred, y_true):
        return (y_pred - _match(y_pred, y_true).to(y_pred.dtype)).abs().mean()


class Accuracy(Metric):
    """Keras' 'accuracy': binary, categorical or sparse, chosen from the loss and the shapes.

    Args:
        name, dtype: Keras' arguments, in Keras' order.
        kind: "binary" (threshold 0.5, or 0 on logits), "categorical" (argmax of one-hot targets),
            "sparse" (argmax against integer ids) or "auto" (decided on the first batch).
        from_logits: the model outputs logits (binary threshold 0 instead of 0.5).
    """
    name = "accuracy"
    KINDS = ("auto", "binary", "categorical", "sparse")

    def __init__(self, name=None, dtype=None, *, kind="auto", from_logits=False):
        super().__init__(name, dtype)
        if kind not in self.KINDS:
            raise LstmkitError(f"kind: expected one of {self.KINDS}, got {kind!r}")
        self.kind, self.threshold = kind, 0.0 if from_logits else 0.5

    def batch(self, y_pred, y_true):
        kind = self.kind if self.kind != "auto" else _accuracy_kind(y_pred, y_true)
        if kind == "binary":
            hit = (y_pred > self.threshold) == (_match(y_pred, y_true) > 0.5)
        elif kind == "categorical":
            hit = y_pred.argmax(-1) == y_true.argmax(-1)
        else:
            ids = y_true.squeeze(-1) if y_true.dim() == y_pred.dim() else y_true
            hit = y_pred.argmax(-1) == ids.long()
        return hit.float().mean()


class MeanAbsolutePercentageError(Metric):
    name = "mean_absolute_percentage_error"

    def batch(self, y_pred, y_true):
        y_true = _match(y_pred, y_true).to(y_pred.dtype)
        return (100.0 * (y_true - y_pred).abs() / y_true.abs().clamp_min(1e-7)).mean()


class BinaryAccuracy(Accuracy):
    """The fraction of y_pred > threshold (Keras' 0.5) that agree with y_true > 0.5."""
    name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name, dtype, kind="binary")
        self.threshold = float(threshold)


class CategoricalAccuracy(Accuracy):
    """argmax(y_pred) == argmax(y_true) for one-hot targets."""
    name = "categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(name, dtype, kind="categorical")


class SparseCategoricalAccuracy(Accuracy):
    """argmax(y_pred) == y_true for integer class ids."""
    name = "sparse_categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(name, dtype, kind="sparse")


def _accuracy_kind(y_pred, y_true):
    if y_pred.shape[-1] == 1 or y_pred.dim() == 0:
        return "binary"
    if y_true.shape == y_pred.shape and y_true.is_floating_point():
        return "categorical"
    return "sparse"


METRICS = {"accuracy": Accuracy, "acc": Accuracy, "mse": MeanSquaredError,
           "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
           "mean_absolute_error": MeanAbsoluteError, "rmse": RootMeanSquaredError}
METRICS.update({"mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
                "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
                "sparse_categorical_accuracy": SparseCategoricalAccuracy,
                "root_mean_squared_error": RootMeanSquaredError})


def _accuracy_for_loss():
    """(loss class, accuracy kind): by class, so a loss renamed with name= still decides."""
    return ((losses_.BinaryCrossentropy, "binary"), (losses_.CategoricalCrossentropy, "categorical"),
            (losses_.SparseCategoricalCrossentropy, "sparse"))


class MeanMetricWrapper(Metric):
    """A function `fn(y_true, y_pred)` (values per sample, or a scalar) as a metric: the batch mean,
    named after the function, as Keras wraps a custom metric passed to compile."""

    def __init__(self, fn, name=None, dtype=None):
        super().__init__(name or getattr(fn, "name", None) or getattr(fn, "__name__", "metric"), dtype)
        self.fn = fn

    def batch(self, y_pred, y_true):
        values = self.fn(y_true, y_pred)
        if not isinstance(values, torch.Tensor):
            raise LstmkitError(f"metrics: {self.name} must return a torch tensor, got {type(values).__name__}")
        return values.float().mean()


def get(metric, loss=None) -> Metric:
    """A Metric from a Keras name, a Metric object or class, or a function `fn(y_true, y_pred)`;
    'accuracy' picks its kind from the loss. A loss name ('binary_crossentropy', ...) is the loss'
    batch mean, as Keras accepts it. The metric is logged under the name given.

    Raises:
        LstmkitError: an unknown name (the message lists the known ones).
    """
    if isinstance(metric, type) and issubclass(metric, Metric):
        metric = metric()
    by_class = {cls.__name__: cls for cls in METRICS.values()}  # Keras takes class names too
    if isinstance(metric, str) and metric not in METRICS and metric in by_class:
        return get(by_class[metric], loss) if by_class[metric] is not Accuracy else get("accuracy", loss)
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str) and metric not in METRICS and metric in losses_.LOSSES:
        return MeanMetricWrapper(_loss_function(metric), name=metric)
    if callable(metric) and not isinstance(metric, str):
        return MeanMetricWrapper(metric)
    if not isinstance(metric, str) or metric not in METRICS:
        known = ", ".join(list(METRICS) + [n for n in losses_.LOSSES if n not in METRICS])
        raise LstmkitError(f"metrics: unknown metric {metric!r}; known: {known} or a function "
                           "fn(y_true, y_pred)")
    if METRICS[metric] is Accuracy:
        kind = next((k for cls, k in _accuracy_for_loss() if isinstance(loss, cls)), "auto")
        return Accuracy(metric, kind=kind, from_logits=getattr(loss, "from_logits", False))
    return METRICS[metric](name=metric)


def _loss_function(name):
    """A loss name as a metric function (y_true, y_pred) -> per-sample values."""
    loss = losses_.LOSSES[name]()
    return lambda y_true, y_pred: loss.per_sample(y_pred, y_true)


def evaluate(metrics, y_pred, y_true) -> list[torch.Tensor]:
    """Per-batch values of every metric, as detached tensors (no host sync)."""
    with torch.no_grad():
        return [m.batch(y_pred, y_true) for m in metrics]
