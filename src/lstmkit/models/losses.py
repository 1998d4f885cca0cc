"""Losses by Keras name, as objects that return the batch mean, and Keras' loss functions.

As in Keras, a loss object is called `loss(y_true, y_pred, sample_weight=None) -> scalar tensor`, and
a loss function `mean_squared_error(y_true, y_pred)` returns one value per sample (reduced over the last
axis). `get`, which `compile` uses, hands back a copy that takes `(y_pred, y_true)`, the order the
training loop passes, and wraps a user's `def my_loss(y_true, y_pred)` the same way. With no sample
weights the default reduction is the plain mean, computed in one call. Probabilities are clipped to
[1e-7, 1 - 1e-7] before the log, as Keras does, so a saturated sigmoid or softmax never gives an
infinite loss.
"""
import copy
import math

import torch
import torch.nn.functional as F

from ..errors import LstmkitError

EPS = 1e-7  # Keras' backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


def _match(y_pred, y_true):
    """Give y_true a trailing axis of 1 when y_pred has one and y_true lacks it.

    Without this, (B, 1) - (B,) broadcasts to (B, B): a silently wrong loss.
    """
    if y_true.dim() == y_pred.dim() - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    return y_true


def _reduce(per_element, sample_weight):
    """Mean over everything, or Keras' sum_over_batch_size: sum(w * per-sample mean) / B, so that a
    weight of 2 doubles a sample's loss and a weight of 0 drops it (the mean is not renormalised)."""
    if sample_weight is None:
        return per_element.mean()
    per_sample = per_element.reshape(per_element.shape[0], -1).mean(1)  # (B,)
    return (per_sample * sample_weight).sum() / per_sample.shape[0]


def _reduce_as(values, sample_weight, reduction):
    """Keras' reductions of per-sample values (B, ...) other than the default mean."""
    if reduction in ("none", None):
        return values if sample_weight is None else values * _broadcast(sample_weight, values)
    weighted = values if sample_weight is None else values * _broadcast(sample_weight, values)
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return weighted.sum() / _broadcast(sample_weight, values).expand_as(values).sum()
    return weighted.sum() / max(values.numel(), 1)


def _broadcast(sample_weight, values):
    w = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    return w.reshape(w.shape + (1,) * (values.dim() - w.dim()))


class Loss:
    """Base class: subclasses define `elementwise(y_pred, y_true)`.

    Args:
        name: the loss' name (Keras' keyword; the class' short name by default).
        reduction: Keras' reduction: "sum_over_batch_size" (the default, a mean), "mean", "sum",
            "mean_with_sample_weight" or "none".
        dtype: accepted for Keras compatibility; the loss is computed in y_pred's dtype.

    Example:
        >>> import torch
        >>> float(MeanSquaredError()(torch.zeros(2, 1), torch.ones(2, 1)))  # (y_true, y_pred)
        1.0
    """
    name = "loss"
    reduced_last = False  # elementwise() already reduces the last axis (a per-sample value)
    _pred_first = False  # True on the copies `get` gives compile: called as (y_pred, y_true)

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self._keras_args(name, reduction, dtype)

    def _keras_args(self, name, reduction, dtype):
        if reduction not in REDUCTIONS:
            raise LstmkitError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
        self.reduction, self.dtype = reduction, dtype
        if name is not None:
            self.name = str(name)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self._pred_first:
            y_true, y_pred = y_pred, y_true
        y_true = _match(y_pred, y_true)
        reduction = getattr(self, "reduction", "sum_over_batch_size")  # a subclass may skip __init__
        if reduction in ("sum_over_batch_size", "mean"):
            return _reduce(self.elementwise(y_pred, y_true), sample_weight)
        return _reduce_as(self.per_sample(y_pred, y_true), sample_weight, reduction)

    def elementwise(self, y_pred, y_true):
        """A Keras-style subclass defines `call(y_true, y_pred)` (per-sample values) instead."""
        if type(self).call is Loss.call:
            raise LstmkitError(f"{type(self).__name__}: define call(y_true, y_pred) or elementwise()")
        return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        return self.elementwise(y_pred, y_true)

    def per_sample(self, y_pred, y_true):
        """Keras' per-sample values: the elementwise loss reduced (mean) over the last axis."""
        values = self.elementwise(y_pred, _match(y_pred, y_true))
        if self.reduced_last or values.dim() == 0 or type(self).elementwise is Loss.elementwise:
            return values
        return values.mean(-1)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": getattr(self, "reduction", "sum_over_batch_size")}


class _Builtin(Loss):
    """A built-in loss without options: Keras' argument order (reduction, name, dtype)."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        self._keras_args(name, reduction, dtype)


class MeanSquaredError(_Builtin):
    """(y_pred - y_true)², averaged. Example: `model.compile('adam', MeanSquaredError())`."""
    name = "mse"

    def elementwise(self, y_pred, y_true):
        return (y_pred - y_true.to(y_pred.dtype)).square()

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None and getattr(self, "reduction", "mean") in ("sum_over_batch_size", "mean"):
            p, t = (y_true, y_pred) if self._pred_first else (y_pred, y_true)
            return F.mse_loss(p, _match(p, t).to(p.dtype))  # the hot path of regression: one call
        return super().__call__(y_true, y_pred, sample_weight)


class MeanAbsoluteError(_Builtin):
    """|y_pred - y_true|, averaged."""
    name = "mae"

    def elementwise(self, y_pred, y_true):
        return (y_pred - y_true.to(y_pred.dtype)).abs()


class Huber(Loss):
    """Squared below `delta`, linear above (Keras' default delta 1.0)."""
    name = "huber"

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        self._keras_args(name, reduction, dtype)
        self.delta = float(delta)

    def elementwise(self, y_pred, y_true):
        return F.huber_loss(y_pred, y_true.to(y_pred.dtype), reduction="none", delta=self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of probabilities (or logits with `from_logits=True`) against 0/1 targets;
    `label_smoothing` s moves the targets to y * (1 - s) + s / 2, as Keras does."""
    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        self._keras_args(name, reduction, dtype)
        self.from_logits, self.label_smoothing = bool(from_logits), _axis_and_smoothing(axis, label_smoothing)

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        return F.binary_cross_entropy(y_pred.clamp(EPS, 1 - EPS), y_true, reduction="none")

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets of shape (..., C); `label_smoothing` s moves
    the targets to y * (1 - s) + s / C, as Keras does."""
    name = "categorical_crossentropy"
    reduced_last = True

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        self._keras_args(name, reduction, dtype)
        self.from_logits, self.label_smoothing = bool(from_logits), _axis_and_smoothing(axis, label_smoothing)

    def elementwise(self, y_pred, y_true):
        if self.label_smoothing:
            y_true = y_true * (1 - self.label_smoothing) + self.label_smoothing / y_pred.shape[-1]
        if self.from_logits:
            logp = F.log_softmax(y_pred, dim=-1)
        else:  # Keras renormalises probabilities before clipping
            logp = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS).log()
        return -(y_true.to(y_pred.dtype) * logp).sum(-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy against integer class ids: y_pred (..., C), y_true (...) or (..., 1)."""
    name = "sparse_categorical_crossentropy"
    reduced_last = True

    def __init__(self, from_logits: bool = False, ignore_class=None, reduction="sum_over_batch_size",
                 axis: int = -1, name=None, dtype=None):
        if ignore_class is not None:
            raise LstmkitError(f"ignore_class: only None is supported, got {ignore_class!r}")
        self._keras_args(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        _axis_and_smoothing(axis, 0.0)

    def elementwise(self, y_pred, y_true):
        if y_true.dim() == y_pred.dim():  # (..., 1) ids, as Keras accepts
            y_true = y_true.squeeze(-1)
        logp = (F.log_softmax(y_pred, dim=-1) if self.from_logits
                else y_pred.clamp(EPS, 1 - EPS).log())
        return F.nll_loss(logp.reshape(-1, logp.shape[-1]), y_true.reshape(-1).long(),
                          reduction="none").view(y_true.shape)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class MeanAbsolutePercentageError(_Builtin):
    """100 * |y_true - y_pred| / max(|y_true|, eps), averaged."""
    name = "mape"

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        return 100.0 * (y_true - y_pred).abs() / y_true.abs().clamp_min(EPS)


class MeanSquaredLogarithmicError(_Builtin):
    """(log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps)))², averaged."""
    name = "msle"

    def elementwise(self, y_pred, y_true):
        y_true = y_true.to(y_pred.dtype)
        return (y_pred.clamp_min(EPS).log1p() - y_true.clamp_min(EPS).log1p()).square()


class LogCosh(_Builtin):
    """log(cosh(y_pred - y_true)), computed as x + softplus(-2x) - log 2 (no overflow)."""
    name = "log_cosh"

    def elementwise(self, y_pred, y_true):
        x = y_pred - y_true.to(y_pred.dtype)
        return x + F.softplus(-2.0 * x) - math.log(2.0)


class KLDivergence(_Builtin):
    """sum over the last axis of y_true * log(y_true / y_pred), both clipped to [eps, 1]."""
    name = "kl_divergence"
    reduced_last = True

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




def _axis_and_smoothing(axis, label_smoothing):
    if axis != -1:
        raise LstmkitError(f"axis: only -1 (the class axis last) is supported, got {axis!r}")
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise LstmkitError(f"label_smoothing: expected a float in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def _function(cls, keras_name, **fixed):
    """Keras' loss function `keras_name(y_true, y_pred) -> per-sample values` from a Loss class."""
    def loss(y_true, y_pred, **kwargs):
        y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
        return cls(**fixed, **kwargs).per_sample(y_pred, y_true)
    loss.__name__ = loss.__qualname__ = keras_name
    loss.__doc__ = f"Keras' `{keras_name}(y_true, y_pred)`: {cls.__name__}'s value per sample."
    return loss


mean_squared_error = mse = _function(MeanSquaredError, "mean_squared_error")
mean_absolute_error = mae = _function(MeanAbsoluteError, "mean_absolute_error")
mean_absolute_percentage_error = _function(MeanAbsolutePercentageError, "mean_absolute_percentage_error")
mean_squared_logarithmic_error = _function(MeanSquaredLogarithmicError, "mean_squared_logarithmic_error")
huber = _function(Huber, "huber")
log_cosh = _function(LogCosh, "log_cosh")
kl_divergence = _function(KLDivergence, "kl_divergence")
binary_crossentropy = _function(BinaryCrossentropy, "binary_crossentropy")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical_crossentropy")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy")
FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
             mean_squared_logarithmic_error, huber, log_cosh, kl_divergence, binary_crossentropy,
             categorical_crossentropy, sparse_categorical_crossentropy]


class _CustomLoss:
    """A user's `fn(y_true, y_pred)` as compile uses it: called (y_pred, y_true[, sample_weight]), the
    per-sample values it returns reduced as Keras' default reduction does (weighted sum / count).
    torch's own losses (a `torch.nn` loss module, a `torch.nn.functional` function) and callables
    marked `y_pred_first = True` are called in torch's order `(input, target)`."""

    def __init__(self, fn):
        self.fn, self.name = fn, getattr(fn, "__name__", type(fn).__name__)
        self.torch_order = isinstance(fn, torch.nn.Module) or getattr(fn, "y_pred_first", False) or \
            str(getattr(fn, "__module__", "") or "").startswith("torch.")

    def __call__(self, y_pred, y_true, sample_weight=None):
        values = self.fn(y_pred, y_true) if self.torch_order else self.fn(y_true, y_pred)
        if not isinstance(values, torch.Tensor):
            raise LstmkitError(f"loss: {self.name} must return a torch tensor, got {type(values).__name__}")
        if sample_weight is None:
            return values.mean()
        return _reduce_as(values, sample_weight, "sum_over_batch_size")


def get(loss):
    """What `compile(loss=...)` uses, called `(y_pred, y_true[, sample_weight])`: from a Keras name, a
    Loss object or any callable `fn(y_true, y_pred)` (Keras' order) returning a scalar or per-sample
    values; torch's losses (`torch.nn.MSELoss()`, `torch.nn.functional.cross_entropy`) keep theirs.

    Raises:
        LstmkitError: an unknown name (the message lists the known ones) or a non-callable.
    """
    if isinstance(loss, str):
        by_class = {cls.__name__: cls for cls in LOSSES.values()}  # Keras takes class names too
        if loss not in LOSSES and loss not in by_class:
            raise LstmkitError(f"loss: unknown name {loss!r}; known: {', '.join(LOSSES)} (or a class "
                               "name such as 'MeanSquaredError')")
        loss = LOSSES.get(loss, by_class.get(loss))()
    elif isinstance(loss, type) and issubclass(loss, Loss):
        loss = loss()
    if isinstance(loss, Loss):
        if loss._pred_first:
            return loss
        resolved = copy.copy(loss)
        resolved._pred_first = True
        return resolved
    if not callable(loss):
        raise LstmkitError(f"loss: expected a name ({', '.join(LOSSES)}) or a callable "
                           f"loss(y_true, y_pred), got {type(loss).__name__}")
    if isinstance(loss, _CustomLoss):
        return loss
    return _CustomLoss(loss)
