"""The Keras-style layer base class, `Input`, and activations and initializers by Keras name.

Shapes given to and returned by `build` / `compute_output_shape` include the batch axis as None,
as in Keras: `LSTM(50, input_shape=(None, 1))` is built for (None, None, 1).
"""
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LstmkitError


class Layer(nn.Module):
    """A Keras-style layer: built lazily from the first input's shape, passes masks along.

    Subclasses define `build(input_shape)` (create weights), `forward(x, mask=None)`,
    `compute_output_shape`, `compute_mask` where they change the mask, `get_config` and
    `weight_layout`: (attribute, transposed) pairs giving Keras' weight order and layout.

    Args:
        input_shape: the input's shape without the batch axis, e.g. (None, 1) for any length.
        name: the layer's name in summaries (default: from the class, e.g. 'lstm').
    """
    weight_layout: tuple = ()

    def __init__(self, input_shape=None, name=None):
        super().__init__()
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.name, self.built = name, False

    def __call__(self, *args, **kwargs):
        if args and is_symbolic(args[0]):
            return call_symbolic(self, *args, **kwargs)  # the functional API: record, don't run
        return super().__call__(*args, **kwargs)

    def build(self, input_shape):
        self.built = True

    def maybe_build(self, x: torch.Tensor):
        """Build from the first input (lazy build) on its device."""
        if not self.built:
            self.build((None, *x.shape[1:]))
            self.to(x.device)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, x, mask):
        """The mask for this layer's output, given its input and input mask (default: unchanged)."""
        return mask

    def check_data(self, x: torch.Tensor, name: str):
        """Check a whole input array once before fit/predict (default: nothing to check)."""

    def get_config(self) -> dict:
        config = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, in Keras' order and layout (kernels as (in, out))."""
        out = []
        for attr, transposed in self.weight_layout:
            w = getattr(self, attr, None)
            if w is not None:
                w = w.detach().cpu()
                out.append((w.t() if transposed else w).numpy().copy())
        return out

    def set_weights(self, weights):
        """Set the weights from arrays in Keras' order and layout (as `get_weights` returns)."""
        params = [(getattr(self, a), t) for a, t in self.weight_layout if getattr(self, a, None) is not None]
        name = self.name or default_name(self)
        if len(weights) != len(params):
            raise LstmkitError(f"set_weights: layer {name!r} expects {len(params)} arrays, "
                               f"got {len(weights)}")
        with torch.no_grad():
            for (p, transposed), w in zip(params, weights):
                w = torch.as_tensor(np.asarray(w), dtype=p.dtype)
                w = w.t() if transposed else w
                if w.shape != p.shape:
                    want = tuple(p.t().shape if transposed else p.shape)
                    raise LstmkitError(f"set_weights: layer {name!r} expects an array of shape "
                                       f"{want}, got {tuple(np.shape(w.t() if transposed else w))}")
                p.copy_(w)


def is_symbolic(x) -> bool:
    """A KerasTensor, or a non-empty list/tuple of them."""
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(t, KerasTensor) for t in x)
    return isinstance(x, KerasTensor)


def default_name(layer) -> str:
    """'LSTM' -> 'lstm', 'TimeDistributed' -> 'time_distributed', as Keras names layers."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(layer).__name__).lower()


def check_features(x, expected, layer):
    """x's last axis must hold the `expected` features the layer was built for."""
    if x.shape[-1] != expected:
        raise LstmkitError(f"{layer.name or default_name(layer)}: expected inputs with {expected} "
                           f"features in the last axis (the layer was built for them), got shape "
                           f"{tuple(x.shape)}")


class KerasTensor:
    """A symbolic tensor of the functional API: its shape (batch axis None) and the layer call
    (`Node`) that made it, None for an `Input`. Calling a layer on one records a call and returns
    the call's output KerasTensor(s).

    Args:
        shape: the full shape, batch axis first (None unless fixed by `Input(batch_shape=...)`).
        node: the `Node` whose call returned it; index: which of that call's outputs it is.
        dtype: the tensor's dtype name.
    """

    def __init__(self, shape, node=None, index=0, dtype="float32"):
        self.shape, self.node, self.index, self.dtype = tuple(shape), node, index, dtype

    @property
    def layer(self):
        return self.node.layer if self.node is not None else None

    def __repr__(self):
        made = f", from {self.layer.name or default_name(self.layer)}" if self.layer is not None else ""
        return f"<KerasTensor shape={self.shape}{made}>"


class Node:
    """One recorded layer call: `layer(*args, **kwargs)`, where args and kwargs may hold
    KerasTensors in (nested) lists, e.g. `lstm(x, initial_state=[h, c])`.

    Attributes:
        inputs: every KerasTensor in args then kwargs, in order (the call's dependencies).
        outputs: the KerasTensors it returned (several for return_state=True).
    """

    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs = layer, tuple(args), dict(kwargs)
        self.inputs = [t for t in _leaves((self.args, self.kwargs)) if isinstance(t, KerasTensor)]
        self.outputs = []

    def call(self, value):
        """Run the layer on real tensors; `value(t)` gives the tensor for a KerasTensor `t`."""
        args, kwargs = map_structure((self.args, self.kwargs), value)
        return self.layer(*args, **kwargs)


def _leaves(structure):
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _leaves(item)
    elif isinstance(structure, dict):
        for item in structure.values():
            yield from _leaves(item)
    else:
        yield structure


def map_structure(structure, fn):
    """The same nesting of lists, tuples and dicts with each KerasTensor `t` replaced by fn(t)."""
    if isinstance(structure, KerasTensor):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(item, fn) for item in structure)
    if isinstance(structure, dict):
        return {k: map_structure(v, fn) for k, v in structure.items()}
    return structure


class Input(KerasTensor):
    """A model input of `shape` (without the batch axis), as Keras' `Input`: the first entry of a
    Sequential model, or the start of a functional model (`Model(inputs, outputs)`).

    Args:
        shape: without the batch axis; None for any length, e.g. (None, 1).
        batch_size, batch_shape: a fixed batch size (stateful models), or the whole shape
            with the batch axis first, instead of `shape`.
        dtype: 'float32' for features, 'int64' for token ids (an Embedding's input).
        name: the input's name in summaries (default input_0, input_1, ...).

    Example:
        >>> from lstmkit.models import Sequential
        >>> from lstmkit.layers import Input, Dense
        >>> model = Sequential([Input(shape=(3,)), Dense(1)])
        >>> Input(shape=(None, 1)).shape
        (None, None, 1)
    """

    def __init__(self, shape=None, batch_size=None, dtype="float32", name=None, batch_shape=None):
        self.name = name
        if (shape is None) == (batch_shape is None):
            raise LstmkitError(f"shape, batch_shape: give exactly one, got shape={shape!r}, "
                               f"batch_shape={batch_shape!r}")
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if isinstance(shape, int):
            shape = (shape,)
        dtype = {"int": "int64", "float": "float32"}.get(dtype, dtype)
        if dtype not in ("float32", "float64", "int64", "int32"):
            raise LstmkitError(f"dtype: expected 'float32', 'float64', 'int64' or 'int32', got {dtype!r}")
        super().__init__((batch_size, *shape), dtype=dtype)


def call_symbolic(layer, *args, **kwargs):
    """`layer(x, ...)` on KerasTensors: build the layer from x's shape and record the call.

    Returns:
        A KerasTensor, or a list of them when the layer has several outputs (return_state=True).
    """
    x = args[0]
    shape = [t.shape for t in x] if isinstance(x, (list, tuple)) else x.shape
    if not layer.built:
        layer.build(shape)
    out = layer.compute_output_shape(shape)
    node = Node(layer, args, kwargs)
    several = isinstance(out, list) and all(isinstance(s, (list, tuple)) for s in out)
    node.outputs = [KerasTensor(s, node, k) for k, s in enumerate(out if several else [out])]
    result = node.outputs if several else node.outputs[0]
    if "output" not in vars(layer):  # as Keras: a layer's input/output are those of its first call
        layer.input, layer.output = x, result
    return result


ACTIVATIONS = {
    "linear": lambda x: x, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "softmax": lambda x: F.softmax(x, dim=-1), "elu": F.elu, "selu": F.selu, "gelu": F.gelu,
    "softplus": F.softplus, "softsign": F.softsign, "swish": F.silu, "silu": F.silu,
    "exponential": torch.exp, "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "hard_sigmoid": lambda x: F.relu6(x + 3) / 6,
}


def activation(name):
    """An activation function by Keras name (None means linear)."""
    if name is None:
        return ACTIVATIONS["linear"]
    if name not in ACTIVATIONS:
        raise LstmkitError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _truncated(t, std):
    # Keras' *_normal initializers draw from a normal truncated at 2 std
    return nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std)


# Each takes a tensor in torch's (out, in) layout: torch's fan_in/fan_out then equal Keras' for the
# transposed (in, out) kernel, so the distributions are Keras'.
INITIALIZERS = {
    "glorot_uniform": nn.init.xavier_uniform_,
    "glorot_normal": lambda t: _truncated(t, (2 / sum(nn.init._calculate_fan_in_and_fan_out(t))) ** 0.5 / .8796),
    "he_uniform": lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"),
    "he_normal": lambda t: _truncated(t, (2 / nn.init._calculate_fan_in_and_fan_out(t)[0]) ** 0.5 / .8796),
    "lecun_uniform": lambda t: nn.init.kaiming_uniform_(t, nonlinearity="linear"),
    "orthogonal": nn.init.orthogonal_,
    "zeros": nn.init.zeros_, "ones": nn.init.ones_,
    "uniform": lambda t: nn.init.uniform_(t, -0.05, 0.05),
    "random_uniform": lambda t: nn.init.uniform_(t, -0.05, 0.05),
    "random_normal": lambda t: nn.init.normal_(t, 0.0, 0.05),
}


def initialize(tensor, name, arg):
    """Fill `tensor` in place with the Keras initializer `name`; `arg` names the argument in errors."""
    if name not in INITIALIZERS:
        raise LstmkitError(f"{arg}: unknown initializer {name!r}; known: {', '.join(INITIALIZERS)}")
    with torch.no_grad():
        INITIALIZERS[name](tensor)
