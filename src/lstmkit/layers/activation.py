"""Keras-style activation layers: ReLU, LeakyReLU (Keras 3's default slope 0.3), Softmax (masked).

Example:
    >>> import torch
    >>> from lstmkit.layers import LeakyReLU
    >>> LeakyReLU()(torch.tensor([-1.0, 2.0])).tolist()
    [-0.30000001192092896, 2.0]
"""
import torch

from .. import activations
from ..errors import LstmkitError
from .base import Layer


class ReLU(Layer):
    """max(x, 0) with Keras' options: `max_value` cap, `negative_slope` below `threshold`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if max_value is not None and max_value < 0:
            raise LstmkitError(f"max_value: expected None or >= 0, got {max_value!r}")
        if negative_slope < 0:
            raise LstmkitError(f"negative_slope: expected >= 0, got {negative_slope!r}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        self.built = True

    def forward(self, x, mask=None):
        return activations.relu(x, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x below (Keras 3's default slope 0.3)."""

    def __init__(self, negative_slope=0.3, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if negative_slope < 0:
            raise LstmkitError(f"negative_slope: expected >= 0, got {negative_slope!r}")
        self.negative_slope, self.built = float(negative_slope), True

    def forward(self, x, mask=None):
        return activations.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax over `axis`; masked positions (mask False) get -1e9 added first, as in Keras, so they
    receive (almost) no weight."""

    def __init__(self, axis=-1, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.axis, self.built = axis, True

    def forward(self, x, mask=None):
        if mask is not None:
            x = x + (1.0 - mask.to(x.dtype)) * -1e9
        return torch.softmax(x, dim=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
