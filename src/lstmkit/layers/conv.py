"""Keras-style 1D convolution over sequences (B, T, C) -> (B, T', filters), channels last.

With kernel size k, dilation d, stride s and effective size e = (k - 1) d + 1, the padding is
    'valid'   none: T' = floor((T - e) / s) + 1
    'same'    p = max((ceil(T / s) - 1) s + e - T, 0) zeros, p // 2 before and the rest after: T' = ceil(T / s)
    'causal'  (k - 1) d zeros before: output t sees only inputs up to t
as Keras pads. The kernel is kept in Keras' layout (k, C / groups, filters).

Example:
    >>> import torch
    >>> from lstmkit.layers import Conv1D
    >>> Conv1D(8, 3, padding="causal")(torch.randn(2, 10, 4)).shape
    torch.Size([2, 10, 8])
"""
import math

import torch
import torch.nn.functional as F

from .. import activations, initializers
from ..errors import LstmkitError
from .base import Layer, check_features, initialize
from .base import activation as get_activation

PADDINGS = ("valid", "same", "causal")


def same_padding(length, size, stride, dilation=1):
    """(before, after) zeros for Keras' 'same' padding of a length-`length` axis."""
    effective = (size - 1) * dilation + 1
    total = max((math.ceil(length / stride) - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def conv_length(T, size, stride, padding, dilation=1):
    """The output length T' for input length T (None stays None)."""
    if T is None:
        return None
    if padding == "same":
        return math.ceil(T / stride)
    if padding == "causal":
        return (T - 1) // stride + 1
    return (T - (size - 1) * dilation - 1) // stride + 1


def one_int(v, arg):
    """Keras accepts an int or a 1-tuple for 1D sizes."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise LstmkitError(f"{arg}: expected a positive int, got {v!r}")
    return v


class Conv1D(Layer):
    """Keras' Conv1D: activation(conv(x, kernel) + bias) along the time axis.

    Args:
        filters: output channels.
        kernel_size, strides, dilation_rate: ints (or 1-tuples); strides > 1 and dilation > 1 exclude
            each other, as in Keras.
        padding: 'valid' (default), 'same' or 'causal' (see the module docstring).
        groups: split the input channels into groups convolved separately.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as for Dense.
    """
    weight_layout = (("kernel", False), ("bias", False))

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 input_shape=None, name=None):
        super().__init__(input_shape, name, activity_regularizer)
        self.filters = one_int(filters, "filters")
        self.kernel_size, self.strides = one_int(kernel_size, "kernel_size"), one_int(strides, "strides")
        self.dilation_rate, self.groups = one_int(dilation_rate, "dilation_rate"), one_int(groups, "groups")
        if padding not in PADDINGS:
            raise LstmkitError(f"padding: expected one of {', '.join(PADDINGS)}, got {padding!r}")
        if data_format not in (None, "channels_last"):
            raise LstmkitError(f"data_format: lstmkit's layers are channels_last, got {data_format!r}")
        if self.strides > 1 and self.dilation_rate > 1:
            raise LstmkitError("strides, dilation_rate: at most one of them may be above 1")
        if self.filters % self.groups:
            raise LstmkitError(f"groups: expected a divisor of filters={self.filters}, got {self.groups}")
        self.padding, self.use_bias, self.activation_name = padding, use_bias, activation
        self.activation = get_activation(activation)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.init_args = (kernel_initializer, bias_initializer)
        self.set_weight_rules("kernel", kernel_regularizer, kernel_constraint, "kernel")
        self.set_weight_rules("bias", bias_regularizer, bias_constraint, "bias")
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise LstmkitError(f"{self.name or 'conv1d'}: expected a known channel count divisible by "
                               f"groups={self.groups}, got input shape {tuple(input_shape)}")
        self.in_channels = int(channels)
        k, c = self.kernel_size, self.in_channels // self.groups
        self.kernel = torch.nn.Parameter(torch.empty(k, c, self.filters))  # Keras' (k, C/groups, filters)
        initialize(self.kernel, self.kernel_initializer, "kernel_initializer")
        self.bias = None
        if self.use_bias:
            self.bias = torch.nn.Parameter(torch.empty(self.filters))
            initialize(self.bias, self.bias_initializer, "bias_initializer")
        self.built = True

    def forward(self, x, mask=None):
        self.maybe_build(x)
        if x.dim() != 3:
            raise LstmkitError(f"{self.name or 'conv1d'}: expected input of shape (batch, time, channels), "
                               f"got {tuple(x.shape)}")
        check_features(x, self.in_channels, self)
        xt = x.transpose(1, 2)  # (B, C, T)
        if self.padding == "causal":
            xt = F.pad(xt, ((self.kernel_size - 1) * self.dilation_rate, 0))
        elif self.padding == "same":
            xt = F.pad(xt, same_padding(xt.shape[-1], self.kernel_size, self.strides, self.dilation_rate))
        y = F.conv1d(xt, self.kernel.permute(2, 1, 0), self.bias, self.strides, 0, self.dilation_rate,
                     self.groups)  # (B, filters, T')
        return self.activation(y.transpose(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], conv_length(input_shape[1], self.kernel_size, self.strides, self.padding,
                                            self.dilation_rate), self.filters)

    def compute_mask(self, x, mask):
        return None

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": [self.kernel_size],
                "strides": [self.strides], "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": [self.dilation_rate], "groups": self.groups,
                "activation": activations.serialize(self.activation_name), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.init_args[0]),
                "bias_initializer": initializers.serialize(self.init_args[1]),
                **self.rules_config(("kernel", "kernel"), ("bias", "bias"))}
