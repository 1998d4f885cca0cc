"""Keras-style regularisation layers that act only while training: SpatialDropout1D, GaussianNoise.

Example:
    >>> import torch
    >>> from lstmkit.layers import GaussianNoise
    >>> GaussianNoise(0.1).eval()(torch.ones(2)).tolist()  # inference: unchanged
    [1.0, 1.0]
"""
import torch

from ..errors import LstmkitError
from .base import Layer


def _generator(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LstmkitError(f"seed: expected an int or None, got {seed!r}")
    return torch.Generator().manual_seed(seed) if seed is not None else None


class SpatialDropout1D(Layer):
    """Drops whole feature channels of a sequence (B, T, C): one keep/drop draw per (sample,
    channel), kept values scaled by 1 / (1 - rate); identity at inference.

    Args:
        rate: the probability of dropping a channel.
        seed: makes the drawn masks repeatable.
    """

    def __init__(self, rate, seed=None, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if not 0 <= rate < 1:
            raise LstmkitError(f"rate: expected a probability in [0, 1), got {rate!r}")
        self.rate, self.seed, self._gen, self.built = float(rate), seed, _generator(seed), True

    def forward(self, x, mask=None, training=None):
        if x.dim() != 3:
            raise LstmkitError(f"{self.name or 'spatial_dropout1d'}: expected input of shape "
                               f"(batch, time, channels), got {tuple(x.shape)}")
        if not (self.training if training is None else training) or self.rate == 0:
            return x
        keep = torch.empty(x.shape[0], 1, x.shape[2], dtype=x.dtype)  # (B, 1, C)
        keep = keep.bernoulli_(1 - self.rate, generator=self._gen).div_(1 - self.rate)
        return x * keep.to(x.device)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class GaussianNoise(Layer):
    """Adds zero-mean normal noise of `stddev` while training; identity at inference."""

    def __init__(self, stddev, seed=None, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if not stddev >= 0:
            raise LstmkitError(f"stddev: expected a non-negative float, got {stddev!r}")
        self.stddev, self.seed, self._gen, self.built = float(stddev), seed, _generator(seed), True

    def forward(self, x, mask=None, training=None):
        if not (self.training if training is None else training) or self.stddev == 0:
            return x
        noise = torch.empty(x.shape, dtype=x.dtype).normal_(0.0, self.stddev, generator=self._gen)
        return x + noise.to(x.device)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
