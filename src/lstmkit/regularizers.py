"""Keras 3 weight regularizers: a penalty added to the training loss.

    L1(l1)(w)       = l1 * sum(|w|)
    L2(l2)(w)       = l2 * sum(w²)
    L1L2(l1, l2)(w) = l1 * sum(|w|) + l2 * sum(w²)

Layers take them as `kernel_regularizer=`, `recurrent_regularizer=`, `bias_regularizer=` (penalising
the weight) and `activity_regularizer=` (penalising the layer's output, divided by the batch size as
Keras 3 does); `Layer.regularization_losses()` returns the current penalties.

Example:
    >>> import torch
    >>> from lstmkit import regularizers
    >>> round(float(regularizers.l2(0.1)(torch.ones(2, 3))), 6)
    0.6
"""
from . import keras_objects
from .errors import LstmkitError


class Regularizer:
    """Base class: `__call__(w) -> scalar tensor`; `get_config()` its arguments."""

    def __call__(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _factor(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise LstmkitError(f"{arg}: expected a non-negative float, got {value!r}")
    return float(value)


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w²); both default to 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _factor(l1, "l1"), _factor(l2, "l2")

    def __call__(self, x):
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|w|); Keras' default l1=0.01."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(w²); Keras' default l2=0.01."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2  # Keras' lower-case names for the same classes
NAMES = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier, arg="regularizer"):
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2'), a {'class_name', 'config'} dict, a
    Regularizer or any callable w -> scalar tensor."""
    return keras_objects.get(identifier, Regularizer, NAMES, arg,
                             "None, 'l1', 'l2', 'l1_l2', a regularizer or a callable")


def serialize(reg):
    """None or Keras' {'class_name', 'config'} dict."""
    return keras_objects.serialize(reg, Regularizer, "regularizer")
