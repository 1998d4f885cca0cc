"""Keras-style reshaping layers: RepeatVector, Flatten, Reshape, Permute (batch axis untouched).

None of them carries a mask on (as in Keras, where they do not support masking).

Example:
    >>> import torch
    >>> from lstmkit.layers import RepeatVector, Reshape
    >>> RepeatVector(3)(torch.ones(2, 4)).shape, Reshape((2, 2))(torch.ones(5, 4)).shape
    (torch.Size([2, 3, 4]), torch.Size([5, 2, 2]))
"""
import math

from ..errors import LstmkitError
from .base import Layer, default_name


def _positive_int(v, arg):
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise LstmkitError(f"{arg}: expected a positive int, got {v!r}")
    return v


class _Reshaping(Layer):
    def __init__(self, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.built = True  # no weights

    def compute_mask(self, x, mask):
        return None


class RepeatVector(_Reshaping):
    """(B, F) -> (B, n, F): the input repeated n times, e.g. an encoder's summary fed to every step
    of a decoder.

    Args:
        n: the number of repetitions.
    """

    def __init__(self, n, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.n = _positive_int(n, "n")

    def forward(self, x, mask=None):
        if x.dim() != 2:
            raise LstmkitError(f"{self.name or 'repeat_vector'}: expected input of shape (batch, features), "
                               f"got {tuple(x.shape)}")
        return x[:, None].expand(-1, self.n, -1)  # (B, n, F)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Flatten(_Reshaping):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...)."""

    def __init__(self, data_format=None, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if data_format not in (None, "channels_last"):
            raise LstmkitError(f"data_format: lstmkit's layers are channels_last, got {data_format!r}")

    def forward(self, x, mask=None):
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(_Reshaping):
    """(B, ...) -> (B, *target_shape); one entry of target_shape may be -1 (inferred)."""

    def __init__(self, target_shape, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d < -1 or d == 0 for d in self.target_shape):
            raise LstmkitError(f"target_shape: expected positive sizes and at most one -1, got {target_shape!r}")

    def forward(self, x, mask=None):
        try:
            return x.reshape(x.shape[0], *self.target_shape)
        except RuntimeError:
            raise LstmkitError(f"{self.name or 'reshape'}: cannot reshape {tuple(x.shape)} to (batch, "
                               f"{', '.join(map(str, self.target_shape))})") from None

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            out = self.target_shape
        elif None in rest:
            out = tuple(None if d == -1 else d for d in self.target_shape)
        else:
            known = math.prod(d for d in self.target_shape if d != -1)
            out = tuple(math.prod(rest) // known if d == -1 else d for d in self.target_shape)
        return (input_shape[0], *out)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(_Reshaping):
    """Permutes the non-batch axes: `dims` is 1-based, e.g. (2, 1) swaps time and features."""

    def __init__(self, dims, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise LstmkitError(f"dims: expected a permutation of 1..{len(self.dims)}, got {dims!r}")

    def forward(self, x, mask=None):
        if x.dim() != len(self.dims) + 1:
            raise LstmkitError(f"{self.name or default_name(self)}: expected input of rank "
                               f"{len(self.dims) + 1}, got shape {tuple(x.shape)}")
        return x.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
