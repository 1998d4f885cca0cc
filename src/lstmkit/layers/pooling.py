"""Keras-style 1D pooling over sequences (B, T, C), channels last: MaxPooling1D, AveragePooling1D,
GlobalMaxPooling1D, GlobalAveragePooling1D.

'same' padding pads as Conv1D does (before = total // 2); padded positions never win a max and are
not counted in an average (the mean of the window's real steps). GlobalAveragePooling1D averages
the valid steps only when a mask is given; GlobalMaxPooling1D, as in Keras, ignores masks.

Example:
    >>> import torch
    >>> from lstmkit.layers import GlobalAveragePooling1D, MaxPooling1D
    >>> MaxPooling1D(2)(torch.randn(2, 10, 4)).shape
    torch.Size([2, 5, 4])
"""
import torch
import torch.nn.functional as F

from ..errors import LstmkitError
from .base import Layer
from .conv import conv_length, one_int, same_padding


def _check_3d(layer, x):
    if x.dim() != 3:
        raise LstmkitError(f"{layer.name or type(layer).__name__}: expected input of shape (batch, time, "
                           f"channels), got {tuple(x.shape)}")


class _Pooling1D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, input_shape=None,
                 name=None):
        super().__init__(input_shape, name)
        self.pool_size = one_int(pool_size, "pool_size")
        self.strides = one_int(strides, "strides") if strides is not None else self.pool_size
        if padding not in ("valid", "same"):
            raise LstmkitError(f"padding: expected 'valid' or 'same', got {padding!r}")
        if data_format not in (None, "channels_last"):
            raise LstmkitError(f"data_format: lstmkit's layers are channels_last, got {data_format!r}")
        self.padding, self.built = padding, True

    def forward(self, x, mask=None):
        _check_3d(self, x)
        xt = x.transpose(1, 2)  # (B, C, T)
        pad = same_padding(xt.shape[-1], self.pool_size, self.strides) if self.padding == "same" else (0, 0)
        return self.pool(xt, pad).transpose(1, 2)  # (B, T', C)

    def compute_output_shape(self, input_shape):
        T = conv_length(input_shape[1], self.pool_size, self.strides, self.padding)
        return (input_shape[0], T, input_shape[2])

    def compute_mask(self, x, mask):
        return None

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": "channels_last"}


class MaxPooling1D(_Pooling1D):
    """The maximum of each window of `pool_size` steps, every `strides` steps (default pool_size)."""

    def pool(self, xt, pad):
        xt = F.pad(xt, pad, value=float("-inf")) if any(pad) else xt
        return F.max_pool1d(xt, self.pool_size, self.strides)


class AveragePooling1D(_Pooling1D):
    """The mean of each window of `pool_size` steps (padding not counted)."""

    def pool(self, xt, pad):
        if not any(pad):
            return F.avg_pool1d(xt, self.pool_size, self.strides)
        total = F.avg_pool1d(F.pad(xt, pad), self.pool_size, self.strides)
        real = F.avg_pool1d(F.pad(torch.ones_like(xt[:1, :1]), pad), self.pool_size, self.strides)
        return total / real  # the mean over the window's real steps


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if data_format not in (None, "channels_last"):
            raise LstmkitError(f"data_format: lstmkit's layers are channels_last, got {data_format!r}")
        self.keepdims, self.built = keepdims, True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])

    def compute_mask(self, x, mask):
        return None

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """(B, T, C) -> (B, C): the mean over time; with a mask (B, T), the mean of the valid steps."""

    def forward(self, x, mask=None):
        _check_3d(self, x)
        if mask is None:
            return x.mean(1, keepdim=self.keepdims)
        m = mask[..., None].to(x.dtype)  # (B, T, 1)
        return (x * m).sum(1, keepdim=self.keepdims) / m.sum(1, keepdim=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """(B, T, C) -> (B, C): the maximum over time (a mask is ignored, as in Keras)."""

    def forward(self, x, mask=None):
        _check_3d(self, x)
        return x.amax(1, keepdim=self.keepdims)
