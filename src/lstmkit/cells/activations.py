r"""Activations by Keras name, each with its derivative: the one place their math lives.

The cells call `fn`; the fused kernels' hand-written backward calls `grad(x, y)`, the derivative
dy/dx at the pre-activation x with y = fn(x) already computed (sigmoid and tanh are cheapest from y).
Definitions follow Keras 3 (`keras.activations`):

    linear(x)       = x                                   1
    tanh(x)                                               1 - y²
    sigmoid(x)      = 1 / (1 + e^{-x})                    y (1 - y)
    hard_sigmoid(x) = clip(x / 6 + 1/2, 0, 1)             1/6 where -3 < x < 3, else 0
    relu(x)         = max(x, 0)                           [x > 0]
    relu6(x)        = min(max(x, 0), 6)                   [0 < x < 6]
    leaky_relu(x)   = x if x > 0 else 0.2 x               1 or 0.2
    elu(x)          = x if x > 0 else e^x - 1             1 or y + 1
    selu(x)         = λ x if x > 0 else λ α (e^x - 1)     λ or y + λ α
    softplus(x)     = log(1 + e^x)                        σ(x)
    softsign(x)     = x / (1 + |x|)                       1 / (1 + |x|)²
    swish(x) = silu(x) = x σ(x)                           σ(x) (1 + x (1 - σ(x)))
    hard_silu(x) = hard_swish(x) = x hard_sigmoid(x)      hard_sigmoid(x) + x/6 [-3 < x < 3]
    gelu(x)         = x Φ(x)  (exact, Keras' default)     Φ(x) + x φ(x)
    mish(x)         = x tanh(softplus(x))                 t + x σ(x) (1 - t²), t = tanh(softplus(x))
    exponential(x)  = e^x                                 y

Example:
    >>> import torch
    >>> from lstmkit.cells.activations import get
    >>> act = get("hard_sigmoid", "recurrent_activation")
    >>> x = torch.tensor([-4.0, 0.0, 1.5]); y = act.fn(x)
    >>> y.tolist(), act.grad(x, y).tolist()
    ([0.0, 0.5, 0.75], [0.0, 0.1666666716337204, 0.1666666716337204])
"""
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import LstmkitError

_SELU_LAMBDA, _SELU_ALPHA = 1.0507009873554805, 1.6732632423543772


@dataclass(frozen=True)
class Activation:
    """An activation: `fn(x) -> y` and `grad(x, y) -> dy/dx`, both elementwise."""
    name: str
    fn: Callable
    grad: Callable


def _inside(x, lo, hi):
    return ((x > lo) & (x < hi)).to(x.dtype)


def _hard_sigmoid(x):
    return torch.clamp(x / 6 + 0.5, 0.0, 1.0)


def _gelu_grad(x, y):
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return 0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * pdf


def _mish_grad(x, y):
    t = torch.tanh(F.softplus(x))
    return t + x * torch.sigmoid(x) * (1 - t * t)


def _silu_grad(x, y):
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


_TABLE = {
    "linear": (lambda x: x, lambda x, y: torch.ones_like(x)),
    "tanh": (torch.tanh, lambda x, y: 1 - y * y),
    "sigmoid": (torch.sigmoid, lambda x, y: y * (1 - y)),
    "hard_sigmoid": (_hard_sigmoid, lambda x, y: _inside(x, -3.0, 3.0) / 6),
    "relu": (F.relu, lambda x, y: (x > 0).to(x.dtype)),
    "relu6": (lambda x: torch.clamp(x, 0.0, 6.0), lambda x, y: _inside(x, 0.0, 6.0)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x, y: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.2))),
    "elu": (F.elu, lambda x, y: torch.where(x > 0, torch.ones_like(x), y + 1)),
    "selu": (F.selu, lambda x, y: torch.where(x > 0, torch.full_like(x, _SELU_LAMBDA),
                                              y + _SELU_LAMBDA * _SELU_ALPHA)),
    "softplus": (F.softplus, lambda x, y: torch.sigmoid(x)),
    "softsign": (F.softsign, lambda x, y: 1 / (1 + x.abs()) ** 2),
    "swish": (F.silu, _silu_grad),
    "silu": (F.silu, _silu_grad),
    "hard_silu": (lambda x: x * _hard_sigmoid(x), lambda x, y: _hard_sigmoid(x) + x * _inside(x, -3.0, 3.0) / 6),
    "hard_swish": (lambda x: x * _hard_sigmoid(x), lambda x, y: _hard_sigmoid(x) + x * _inside(x, -3.0, 3.0) / 6),
    "gelu": (F.gelu, _gelu_grad),
    "mish": (F.mish, _mish_grad),
    "exponential": (torch.exp, lambda x, y: y),
}
ACTIVATIONS = {name: Activation(name, fn, grad) for name, (fn, grad) in _TABLE.items()}


def get(name, arg="activation") -> Activation:
    """The activation called `name` (None means 'linear', as in Keras).

    Raises:
        LstmkitError: an unknown name; the message names `arg` and lists the known names.
    """
    name = "linear" if name is None else name
    if name not in ACTIVATIONS:
        raise LstmkitError(f"{arg}: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
