"""Losses by Keras name, as objects that return the batch mean.

Every loss is called as `loss(y_pred, y_true, sample_weight=None) -> scalar tensor`. Keras reduces a
loss over the last axis per sample and then averages over samples; with no sample weights that is the
plain mean, which these losses compute in one call. Probabilities are clipped to [1e-7, 1 - 1e-7]
before the log, as Keras does, so a saturated sigmoid or softmax never gives an infinite loss.
"""
import math

import torch.nn.functional as F

from ..errors import LstmkitError

EPS = 1e-7  # Keras' backend.epsilon()


def _match(y_pred, y_true):
    """Give y_true a trailing axis of 1 when y_pred has one and y_true lacks it.

    Without this, (B, 1) - (B,) broadcasts to (B, B): a silently wrong loss.
    """
    if y_true.dim() == y_pred.dim() - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    return y_true


def _reduce(per_element, sample_weight):
    """Mean over everything, or per-sample means weighted by `sample_weight` (B,)."""
    if sample_weight is None:
        return per_element.mean()
    per_sample = per_element.reshape(per_element.shape[0], -1).mean(1)  # (B,)
    return (per_sample * sample_weight).sum() / sample_weight.sum()


class Loss:
    """Base class: subclasses define `elementwise(y_pred, y_true)`."""
    name = "loss"

    def __call__(self, y_pred, y_true, sample_weight=None):
        y_true = _match(y_pred, y_true)
        return _reduce(self.elementwise(y_pred, y_true), sample_weight)

    def get_config(self) -> dict:
        return {}


class MeanSquaredError(Loss):
    """(y_pred - y_true)², averaged. Example: `model.compile('adam', MeanSquaredError())`."""
    name = "mse"

    def elementwise(self, y_pred, y_true):
        return (y_pred - y_true.to(y_pred.dtype)).square()

    def __call__(self, y_pred, y_true, sample_weight=None):
        if sample_weight is None:  # the hot path of regression: one fused call
            return F.mse_loss(y_pred, _match(y_pred, y_true).to(y_pred.dtype))
        return super().__call__(y_pred, y_true, sample_weight)


class MeanAbsoluteError(Loss):
    """|y_pred - y_true|, averaged."""
    name = "mae"

    def elementwise(self, y_pred, y_true):
        return (y_pred - y_true.to(y_pred.dtype)).abs()


class Huber(Loss):
    """Squared below `delta`, linear above (Keras' default delta 1.0)."""
    name = "huber"

    def __init__(self, delta: float = 1.0):
        self.delta = float(delta)

    def elementwise(self, y_pred, y_true):
        return F.huber_loss(y_pred, y_true.to(y_pred.dtype), reduction="none", delta=self.delta)

    def get_config(self):
        return {"delta": self.delta}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of probabilities (or logits with `from_logits=True`) against 0/1 targets."""
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        return F.binary_cross_entropy(y_pred.clamp(EPS, 1 - EPS), y_true, reduction="none")

    def get_config(self):
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets of shape (..., C)."""
    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def elementwise(self, y_pred, y_true):
        if self.from_logits:
            logp = F.log_softmax(y_pred, dim=-1)
        else:  # Keras renormalises probabilities before clipping
            logp = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS).log()
        return -(y_true.to(y_pred.dtype) * logp).sum(-1)

    def get_config(self):
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy against integer class ids: y_pred (..., C), y_true (...) or (..., 1)."""
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def __call__(self, y_pred, y_true, sample_weight=None):
        if y_true.dim() == y_pred.dim():  # (..., 1) ids, as Keras accepts
            y_true = y_true.squeeze(-1)
        return _reduce(self.elementwise(y_pred, y_true), sample_weight)

    def elementwise(self, y_pred, y_true):
        logp = (F.log_softmax(y_pred, dim=-1) if self.from_logits
                else y_pred.clamp(EPS, 1 - EPS).log())
        return F.nll_loss(logp.reshape(-1, logp.shape[-1]), y_true.reshape(-1).long(),
                          reduction="none").view(y_true.shape)

    def get_config(self):
        return {"from_logits": self.from_logits}


class MeanAbsolutePercentageError(Loss):
    """100 * |y_true - y_pred| / max(|y_true|, eps), averaged."""
    name = "mape"

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        return 100.0 * (y_true - y_pred).abs() / y_true.abs().clamp_min(EPS)


class MeanSquaredLogarithmicError(Loss):
    """(log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps)))², averaged."""
    name = "msle"

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        return (y_pred.clamp_min(EPS).log1p() - y_true.clamp_min(EPS).log1p()).square()


class LogCosh(Loss):
    """log(cosh(y_pred - y_true)), computed as x + softplus(-2x) - log 2 (no overflow)."""
    name = "log_cosh"

    def elementwise(self, y_pred, y_true):
        x = y_pred - y_true.to(y_pred.dtype)
        return x + F.softplus(-2.0 * x) - math.log(2.0)


class KLDivergence(Loss):
    """sum over the last axis of y_true * log(y_true / y_pred), both clipped to [eps, 1]."""
    name = "kl_divergence"

    def elementwise(self, y_pred, y_true):
        y_true, y_pred = y_true.to(y_pred.dtype).clamp(EPS, 1), y_pred.clamp(EPS, 1)
        return (y_true * (y_true / y_pred).log()).sum(-1)


LOSSES = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
          "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError, "huber": Huber,
          "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
          "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}
LOSSES.update({"mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
               "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
               "log_cosh": LogCosh, "logcosh": LogCosh, "kl_divergence": KLDivergence, "kld": KLDivergence})


def get(loss):
    """A loss from a Keras name, a Loss object or any callable `loss(y_pred, y_true) -> scalar`.

    Raises:
        LstmkitError: an unknown name (the message lists the known ones) or a non-callable.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise LstmkitError(f"loss: unknown name {loss!r}; known: {', '.join(LOSSES)}")
        return LOSSES[loss]()
    if not callable(loss):
        raise LstmkitError(f"loss: expected a name ({', '.join(LOSSES)}) or a callable "
                           f"loss(y_pred, y_true), got {type(loss).__name__}")
    return loss
