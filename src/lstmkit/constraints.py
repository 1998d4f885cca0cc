"""Keras 3 weight constraints: projections applied to a weight after each optimizer step.

With norms n = sqrt(sum(w², axis)) along `axis` of the weight's Keras layout (axis 0 of a Dense kernel
(in, out) is each output unit's incoming weights) and eps = 1e-7:
    MaxNorm(m)              w * clip(n, 0, m) / (eps + n)
    MinMaxNorm(lo, hi, r)   w * (r * clip(n, lo, hi) + (1 - r) * n) / (eps + n)
    UnitNorm()              w / (eps + n)
    NonNeg()                max(w, 0)

Layers take them as `kernel_constraint=`, `recurrent_constraint=`, `bias_constraint=`;
`Layer.apply_constraints()` projects the weights in place.

Example:
    >>> import torch
    >>> from lstmkit import constraints
    >>> constraints.NonNeg()(torch.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""
from . import keras_objects

EPS = 1e-7  # Keras' backend.epsilon()


class Constraint:
    """Base class: `__call__(w) -> projected w` (a new tensor); `get_config()` its arguments."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return w.square().sum(dim=axis, keepdim=True).sqrt()


class MaxNorm(Constraint):
    """Rescales weights whose norm along `axis` exceeds `max_value` (Keras' defaults 2, axis 0)."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        return w * (n.clamp(0, self.max_value) / (EPS + n))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves norms along `axis` into [min_value, max_value] at `rate` (1: all the way)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        desired = self.rate * n.clamp(self.min_value, self.max_value) + (1 - self.rate) * n
        return w * (desired / (EPS + n))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class UnitNorm(Constraint):
    """Divides by the norm along `axis` (Keras' default 0)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (EPS + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    """Clips negative weights to 0."""

    def __call__(self, w):
        return w.clamp_min(0)


max_norm, min_max_norm, unit_norm, non_neg = MaxNorm, MinMaxNorm, UnitNorm, NonNeg
NAMES = {cls.__name__: cls for cls in (MaxNorm, MinMaxNorm, UnitNorm, NonNeg)}
NAMES.update({"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "unit_norm": UnitNorm,
              "non_neg": NonNeg})


def get(identifier, arg="constraint"):
    """A constraint from None, a name, a {'class_name', 'config'} dict, a Constraint or a callable."""
    return keras_objects.get(identifier, Constraint, NAMES, arg,
                             f"None, a constraint name ({', '.join(NAMES)}), a Constraint or a callable")


def serialize(con):
    """None or Keras' {'class_name', 'config'} dict."""
    return keras_objects.serialize(con, Constraint, "constraint")
