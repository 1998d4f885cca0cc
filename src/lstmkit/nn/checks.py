"""Argument and input checks shared by the LSTM front ends (`nn.LSTM`, `nn.LSTMCell`, `layers.LSTM`):
clear `LstmkitError`s (a ValueError, so torch-style callers still catch them) naming the argument."""
import torch

from .. import kernels
from ..kernels import mixed
from ..errors import LstmkitError


def check_lstm_args(sizes=(), probabilities=(), engine="auto") -> None:
    """Constructor arguments: each (name, value) in `sizes` a positive int, in `probabilities` a
    number in [0, 1); `engine` one of `kernels.ENGINES`.

    Example:
        >>> check_lstm_args(sizes=[("hidden_size", 0)])
        Traceback (most recent call last):
        lstmkit.errors.LstmkitError: hidden_size: expected a positive int, got 0
    """
    for arg, value in sizes:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise LstmkitError(f"{arg}: expected a positive int, got {value!r}")
        if value >= 2**31:  # the weights could not be allocated; torch fails with an overflow
            raise LstmkitError(f"{arg}: expected a positive int below 2**31, got {value!r}")
    for arg, value in probabilities:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise LstmkitError(f"{arg}: expected a probability in [0, 1), got {value!r}")
    if engine not in kernels.ENGINES:
        raise LstmkitError(f"engine: expected one of {', '.join(kernels.ENGINES)}, got {engine!r}")


def check_input(x: torch.Tensor, features: int, param: torch.Tensor, name: str) -> None:
    """x's last dimension, dtype and device must match the module's parameters."""
    if x.shape[-1] != features:
        raise LstmkitError(f"{name}: expected {features} features in the last dimension, "
                           f"got shape {tuple(x.shape)}")
    if x.dtype != param.dtype and not autocast_lowered(x, param):
        raise LstmkitError(f"{name}: expected dtype {param.dtype} (the module's parameters), got {x.dtype}")
    if x.device != param.device:
        raise LstmkitError(f"{name}: expected a tensor on {param.device} (the module's parameters), "
                           f"got one on {x.device}")


def check_hx(h: torch.Tensor, shape: tuple, x: torch.Tensor, name: str) -> torch.Tensor:
    """An initial state must have `shape` and x's dtype and device."""
    if not isinstance(h, torch.Tensor):
        raise LstmkitError(f"{name}: expected a tensor of shape {shape}, got {type(h).__name__}")
    if tuple(h.shape) != tuple(shape):
        raise LstmkitError(f"{name}: expected shape {tuple(shape)}, got {tuple(h.shape)}")
    if h.dtype != x.dtype and not (autocast_lowered(h, x) or autocast_lowered(x, h)):
        raise LstmkitError(f"{name}: expected dtype {x.dtype} (the input's), got {h.dtype}")
    if h.device != x.device:
        raise LstmkitError(f"{name}: expected a tensor on {x.device} (the input's), got one on {h.device}")
    return h


def autocast_lowered(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether an enclosing torch.autocast explains a's dtype next to b's: a in its lower precision,
    b in float32 (`kernels.mixed` casts them)."""
    return (b.dtype == torch.float32 and a.dtype == mixed.autocast_dtype(a.device))
