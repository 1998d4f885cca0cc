"""Metrics by Keras name: each gives a per-batch mean; the epoch value is the sample-weighted mean
of those, passed through `result` (the square root, for rmse)."""
import math

import torch

from ..errors import LstmkitError
from .losses import _match


class Metric:
    """Base class: `batch(y_pred, y_true) -> scalar tensor` (a mean over the batch)."""
    name = "metric"

    def result(self, mean: float) -> float:
        return mean


class MeanSquaredError(Metric):
    name = "mse"

    def batch(self, y_pred, y_true):
        return (y_pred - _match(y_pred, y_true).to(y_pred.dtype)).square().mean()


class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the epoch's mean squared error (not the mean of per-batch roots, as in Keras)."""
    name = "rmse"

    def result(self, mean):
        return math.sqrt(mean)


class MeanAbsoluteError(Metric):
    name = "mae"

    def batch(self, y_pred, y_true):
        return (y_pred - _match(y_pred, y_true).to(y_pred.dtype)).abs().mean()


class Accuracy(Metric):
    """Keras' 'accuracy': binary, categorical or sparse, chosen from the loss and the shapes.

    Args:
        kind: "binary" (threshold 0.5, or 0 on logits), "categorical" (argmax of one-hot targets),
            "sparse" (argmax against integer ids) or "auto" (decided on the first batch).
        from_logits: the model outputs logits (binary threshold 0 instead of 0.5).
    """
    name = "accuracy"

    def __init__(self, kind="auto", from_logits=False):
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
    name = "mape"

    def batch(self, y_pred, y_true):
        y_true = _match(y_pred, y_true).to(y_pred.dtype)
        return (100.0 * (y_true - y_pred).abs() / y_true.abs().clamp_min(1e-7)).mean()


class BinaryAccuracy(Accuracy):
    """The fraction of y_pred > threshold (Keras' 0.5) that agree with y_true > 0.5."""
    name = "binary_accuracy"

    def __init__(self, threshold=0.5):
        super().__init__("binary")
        self.threshold = float(threshold)


class CategoricalAccuracy(Accuracy):
    """argmax(y_pred) == argmax(y_true) for one-hot targets."""
    name = "categorical_accuracy"

    def __init__(self):
        super().__init__("categorical")


class SparseCategoricalAccuracy(Accuracy):
    """argmax(y_pred) == y_true for integer class ids."""
    name = "sparse_categorical_accuracy"

    def __init__(self):
        super().__init__("sparse")


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
_ACCURACY_FOR_LOSS = {"binary_crossentropy": "binary", "categorical_crossentropy": "categorical",
                      "sparse_categorical_crossentropy": "sparse"}


def get(metric, loss=None) -> Metric:
    """A Metric from a Keras name or a Metric object; 'accuracy' picks its kind from the loss.

    Raises:
        LstmkitError: an unknown name (the message lists the known ones).
    """
    if isinstance(metric, Metric):
        return metric
    if not isinstance(metric, str) or metric not in METRICS:
        raise LstmkitError(f"metrics: unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if METRICS[metric] is Accuracy:
        kind = _ACCURACY_FOR_LOSS.get(getattr(loss, "name", None), "auto")
        return Accuracy(kind, getattr(loss, "from_logits", False))
    return METRICS[metric]()


def evaluate(metrics, y_pred, y_true) -> list[torch.Tensor]:
    """Per-batch values of every metric, as detached tensors (no host sync)."""
    with torch.no_grad():
        return [m.batch(y_pred, y_true) for m in metrics]
