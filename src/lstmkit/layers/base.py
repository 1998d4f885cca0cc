"""The Keras-style layer base class, `Input`, and activations and initializers by Keras name.

Shapes given to and returned by `build` / `compute_output_shape` include the batch axis as None,
as in Keras: `LSTM(50, input_shape=(None, 1))` is built for (None, None, 1).
"""
import functools
import inspect
import numbers
import re

import numpy as np
import torch
from torch import nn

from .. import activations as activations_
from .. import constraints as constraints_
from .. import initializers as initializers_
from .. import regularizers as regularizers_
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

    def __init__(self, input_shape=None, name=None, activity_regularizer=None):
        super().__init__()
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.name, self.built = name, False
        self.activity_regularizer = regularizers_.get(activity_regularizer, "activity_regularizer")
        self.weight_regularizers, self.weight_constraints = {}, {}  # attribute -> rule
        self._activity_loss = None

    def __call__(self, *args, **kwargs):
        if args and is_symbolic(args[0]):
            return call_symbolic(self, *args, **kwargs)  # the functional API: record, don't run
        if "training" in kwargs and not _takes_training(type(self)):
            kwargs.pop("training")  # Keras passes training= to every layer; this one has no such mode
        out = super().__call__(*args, **kwargs)
        if self.activity_regularizer is not None:
            self._activity_loss = self._activity_penalty(out)
        return out

    def _activity_penalty(self, out):
        """Keras 3: the penalty of each output tensor, divided by its batch size, summed."""
        outs = out if isinstance(out, (list, tuple)) else [out]
        return sum(self.activity_regularizer(t) / max(1, t.shape[0]) if t.dim() else
                   self.activity_regularizer(t) for t in outs if isinstance(t, torch.Tensor))

    def set_weight_rules(self, attr, regularizer=None, constraint=None, arg="kernel"):
        """Attach a Keras regularizer and constraint (names, dicts or objects) to weight `attr`."""
        reg = regularizers_.get(regularizer, f"{arg}_regularizer")
        con = constraints_.get(constraint, f"{arg}_constraint")
        for table, rule in ((self.weight_regularizers, reg), (self.weight_constraints, con)):
            if rule is None:
                table.pop(attr, None)
            else:
                table[attr] = rule

    def keras_view(self, attr):
        """Weight `attr` in Keras' layout (a transposed view for kernels stored (out, in))."""
        w = getattr(self, attr)
        return w.t() if dict(self.weight_layout).get(attr) else w

    def sublayers(self):
        """The Layers directly inside this one (looking through plain torch containers)."""
        found, stack = [], list(self.children())
        while stack:
            m = stack.pop(0)
            if isinstance(m, Layer):
                found.append(m)
            else:
                stack[:0] = list(m.children())
        return found

    def regularization_losses(self) -> list:
        """The penalties of this layer's weights (Keras layout), its last activity penalty, and
        those of the layers inside it (as Keras' `layer.losses`): a list of scalar tensors."""
        out = [reg(self.keras_view(a)) for a, reg in self.weight_regularizers.items()
               if getattr(self, a, None) is not None]
        if self._activity_loss is not None:
            out.append(self._activity_loss)
        for layer in self.sublayers():
            out.extend(layer.regularization_losses())
        return out

    @property
    def losses(self) -> list:
        """Keras' name for `regularization_losses()`."""
        return self.regularization_losses()

    @torch.no_grad()
    def apply_constraints(self):
        """Project the constrained weights (and those of inner layers) in place; fit calls this
        after each optimizer step, as Keras does."""
        for attr, con in self.weight_constraints.items():
            if getattr(self, attr, None) is not None:
                view = self.keras_view(attr)
                view.copy_(con(view))
        for layer in self.sublayers():
            layer.apply_constraints()

    def rules_config(self, *args) -> dict:
        """get_config entries for the regularizers and constraints of the (attribute, arg) pairs."""
        config = {"activity_regularizer": regularizers_.serialize(self.activity_regularizer)}
        for attr, arg in args:
            config[f"{arg}_regularizer"] = regularizers_.serialize(self.weight_regularizers.get(attr))
            config[f"{arg}_constraint"] = constraints_.serialize(self.weight_constraints.get(attr))
        return config

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


@functools.cache
def _takes_training(cls) -> bool:
    return "training" in inspect.signature(cls.forward).parameters


def is_symbolic(x) -> bool:
    """A KerasTensor, or a non-empty list/tuple of them."""
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(t, KerasTensor) for t in x)
    return isinstance(x, KerasTensor)


def default_name(layer) -> str:
    """'LSTM' -> 'lstm', 'TimeDistributed' -> 'time_distributed', 'Conv1D' -> 'conv1d', as Keras names
    layers (its to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


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
    """A model input, as Keras' `Input`: the first entry of a Sequential model, or the start of a
    functional model (`Model(inputs, outputs)`).

    Args:
        shape: without the batch axis; None for any length, e.g. (None, 1).
        batch_size: the batch axis' fixed size (default None: any).
        dtype: 'float32' (default) for features, 'int64' or 'int32' for token ids, 'float64'.
        batch_shape: the full shape, batch axis first, instead of `shape` and `batch_size`.
        name: the input's name in summaries (default input_0, input_1, ...).

    Example:
        >>> from lstmkit.models import Sequential
        >>> from lstmkit.layers import Input, Dense
        >>> model = Sequential([Input(shape=(3,)), Dense(1)])
        >>> Input(shape=(None, 1)).shape, Input(batch_shape=(4, 10, 2)).shape
        ((None, None, 1), (4, 10, 2))
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
        self.name = name
        if (shape is None) == (batch_shape is None):
            raise LstmkitError(f"shape, batch_shape: expected exactly one of them, got shape={shape!r}, "
                               f"batch_shape={batch_shape!r}")
        if batch_shape is not None and batch_size is not None:
            raise LstmkitError("batch_size: give it inside batch_shape, not beside it")
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or not all(_size(d) for d in (*shape, batch_size)):
            raise LstmkitError(f"shape: expected sizes that are positive ints or None, got shape={shape!r}, "
                               f"batch_size={batch_size!r}")
        shape = tuple(None if d is None else int(d) for d in shape)
        batch_size = None if batch_size is None else int(batch_size)
        # a type (float, int, np.float32) by its name, as Keras reads it; torch.float32 -> 'float32'
        dtype = dtype.__name__ if isinstance(dtype, type) else dtype
        dtype = "float32" if dtype is None else str(dtype).replace("torch.", "")
        dtype = {"int": "int64", "float": "float32"}.get(dtype, dtype)
        if dtype not in ("float32", "float64", "int64", "int32"):
            raise LstmkitError(f"dtype: expected 'float32', 'float64', 'int64' or 'int32', got {dtype!r}")
        super().__init__((batch_size, *shape), dtype=dtype)


def _size(d):
    """An axis size of an Input: None, or a positive integer (numpy's too, never a bool)."""
    return d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0)


class InputLayer(Input):
    """Keras' `InputLayer`, the Sequential form of `Input` (also with the legacy `input_shape=`).

    Example:
        >>> from lstmkit.layers import InputLayer
        >>> InputLayer(input_shape=(10, 1)).shape
        (None, 10, 1)
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, input_shape=None):
        if shape is not None and input_shape is not None:
            raise LstmkitError("shape, input_shape: give one of them")
        super().__init__(shape if shape is not None else input_shape, batch_size, dtype, batch_shape, name)


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


ACTIVATIONS = activations_.ACTIVATIONS
INITIALIZERS = initializers_.NAMES


def activation(identifier, arg="activation"):
    """An activation function by Keras name or a callable (None means linear)."""
    return activations_.get(identifier, arg)


def initialize(param, init, arg, transposed=None):
    """Fill `param` in place with the Keras initializer `init` (a name, dict or Initializer), drawn for
    the weight's Keras shape: `transposed` params are kept (out, in) here and are (in, out) in Keras
    (the default: True for 2-D params, the torch layout of a kernel; pass False for a 2-D weight kept
    in Keras' layout, such as an embedding table)."""
    transposed = param.dim() == 2 if transposed is None else transposed
    fn = initializers_.get(init, arg)
    with torch.no_grad():
        shape = tuple(param.t().shape) if transposed else tuple(param.shape)
        values = fn(shape, dtype=param.dtype)
        values = torch.as_tensor(values, dtype=param.dtype)
        param.copy_(values.t() if transposed else values)
