"""Keras 3 activations as functions on torch tensors, and `get(name)`.

Definitions are Keras 3's: hard_sigmoid(x) = relu6(x + 3) / 6, hard_silu(x) = x * hard_sigmoid(x),
leaky_relu's default slope 0.2, gelu exact unless `approximate=True`, softmax over the last axis.

Example:
    >>> import torch
    >>> from lstmkit import activations
    >>> activations.get("hard_sigmoid")(torch.tensor([0.0, 3.0])).tolist()
    [0.5, 1.0]
"""
import torch
import torch.nn.functional as F

from .errors import LstmkitError


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras' options: a slope below `threshold`, and a cap at `max_value`."""
    y = torch.where(x > threshold, x, torch.zeros_like(x)) if threshold else F.relu(x)
    if max_value is not None:
        y = y.clamp(max=max_value)
    if negative_slope:
        y = y - negative_slope * F.relu(threshold - x)
    return y


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(x, negative_slope)


def relu6(x):
    return F.relu6(x)


def softmax(x, axis=-1):
    return F.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, dim=axis)


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def celu(x, alpha=1.0):
    return F.celu(x, alpha)


def selu(x):
    return F.selu(x)


def gelu(x, approximate=False):
    return F.gelu(x, approximate="tanh" if approximate else "none")


def glu(x, axis=-1):
    return F.glu(x, dim=axis)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return F.softsign(x)


def silu(x):
    return F.silu(x)


def mish(x):
    return x * torch.tanh(F.softplus(x))


def tanh(x):
    return torch.tanh(x)


def tanh_shrink(x):
    return x - torch.tanh(x)


def hard_tanh(x):
    return x.clamp(-1.0, 1.0)


def sigmoid(x):
    return torch.sigmoid(x)


def log_sigmoid(x):
    return F.logsigmoid(x)


def hard_sigmoid(x):
    return F.relu6(x + 3.0) / 6.0


def hard_silu(x):
    return x * hard_sigmoid(x)


def exponential(x):
    return torch.exp(x)


def linear(x):
    return x


swish, hard_swish = silu, hard_silu
ACTIVATIONS = {fn.__name__: fn for fn in (
    relu, leaky_relu, relu6, softmax, log_softmax, elu, celu, selu, gelu, glu, softplus, softsign, silu,
    mish, tanh, tanh_shrink, hard_tanh, sigmoid, log_sigmoid, hard_sigmoid, hard_silu, exponential,
    linear)}
ACTIVATIONS.update(swish=silu, hard_swish=hard_silu)


def get(identifier, arg="activation"):
    """The activation function for a Keras name, a callable (returned as is), or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in ACTIVATIONS:
            raise LstmkitError(f"{arg}: unknown name {identifier!r}; known: {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[identifier]
    if callable(identifier):
        return identifier
    raise LstmkitError(f"{arg}: expected a Keras activation name or a callable, got {identifier!r}")


def serialize(fn) -> str:
    """The Keras name of an activation (a name stays a name)."""
    if fn is None or isinstance(fn, str):
        return "linear" if fn is None else fn
    for name, known in ACTIVATIONS.items():
        if known is fn:
            return name
    raise LstmkitError(f"activation: {fn!r} is not one of Keras' activations and cannot be written "
                       "to a config")
