"""`Sequential`: a stack of layers, each feeding the next, with masks passed along as in Keras."""
import torch
from torch import nn

from ..errors import LstmkitError
from ..layers import Input, Layer, deserialize
from ..layers.base import default_name
from . import registry
from .data import check_input_shape
from .model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: layers to add in order; an `Input(shape)` first declares the input shape.
        name: the model's name in summaries.

    The model is built (weights created) as soon as the input shape is known: from `Input`, from the
    first layer's `input_shape`, or from the first batch given to fit/evaluate.

    Example:
        >>> from lstmkit.models import Sequential
        >>> from lstmkit.layers import LSTM, Dense
        >>> model = Sequential()
        >>> model.add(LSTM(50, input_shape=(None, 1)))
        >>> model.add(Dense(1))
        >>> model.compile(optimizer="rmsprop", loss="mse")
        >>> model.count_params()
        10451
    """

    def __init__(self, layers=None, name="sequential"):
        super().__init__()
        self.name, self.layers = name, []
        self.input_shape, self.output_shapes, self.batch_size = None, [], None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append a layer (an lstmkit layer or any torch module taking one tensor)."""
        if isinstance(layer, Input):
            if self.layers:
                raise LstmkitError("add: Input must come before every layer")
            self.input_shape = layer.shape[1:]  # without the batch axis
            self.batch_size = layer.shape[0]
            return
        if not isinstance(layer, nn.Module):
            raise LstmkitError(f"add: expected an lstmkit layer or torch module, got {type(layer).__name__}")
        if isinstance(layer, Layer) and not self.layers and layer.input_shape is not None:
            self.input_shape = layer.input_shape
        name = getattr(layer, "name", None) or self._unique_name(default_name(layer))
        if name in dict(self.named_children()):
            raise LstmkitError(f"add: the model already has a layer named {name!r}; "
                               "layer names in a model must be unique")
        if isinstance(layer, Layer):
            layer.name = name
        self.add_module(name, layer)
        self.layers.append(layer)
        if not isinstance(self._optimizer_spec, torch.optim.Optimizer):
            self.optimizer = None  # rebuilt over every parameter, new ones included, by the next fit
        if self.input_shape is not None:
            self._build_shapes()

    def _build_shapes(self):
        """Build every layer from the input shape, passing shapes along (no forward pass needed)."""
        shape, self.output_shapes = (None, *self.input_shape), []
        for layer in self.layers:
            if shape is not None and isinstance(layer, (Layer, Model)):
                if not layer.built:
                    layer.build(shape)
                shape = layer.compute_output_shape(shape)
            else:
                shape = None  # a plain torch module: shapes after it are found by a dry run
            self.output_shapes.append(shape)

    def build(self, input_shape):
        """Build every layer for inputs of `input_shape` (batch axis first), as Keras' build."""
        self.input_shape = tuple(input_shape[1:])
        self._build_shapes()

    def compute_output_shape(self, input_shape):
        if self.input_shape is None:
            self.build(input_shape)
        return self.output_shapes[-1] if self.output_shapes else input_shape

    def forward(self, x):
        mask = None
        for layer in self.layers:
            if isinstance(layer, Layer):
                next_mask = layer.compute_mask(x, mask)
                x = layer(x) if mask is None else layer(x, mask=mask)
                mask = next_mask
            else:
                x = layer(x)
        return x

    def _build(self, xs):
        if self.input_shape is None:
            x = xs[0]
            # any sequence length later; integer ids (for an Embedding) have no feature axis
            keep = 0 if not x.is_floating_point() else 1
            self.input_shape = (None,) * (x.dim() - 1 - keep) + tuple(x.shape[x.dim() - keep:])
            self._build_shapes()
        super()._build(xs)

    def _check_inputs(self, xs):
        if len(xs) != 1:
            raise LstmkitError(f"x: a Sequential model takes one input array, got {len(xs)}")
        x = xs[0]
        if self.input_shape is not None:
            check_input_shape(x, tuple(self.input_shape), "x", "the model's input shape")
        if self.layers and isinstance(self.layers[0], Layer):
            self.layers[0].check_data(x, "x")

    def summary_rows(self):
        return [(f"{layer.name} ({type(layer).__name__})", shape, _count(layer))
                for layer, shape in zip(self.layers, self.output_shapes or [None] * len(self.layers))]

    def get_config(self):
        layers = []
        for layer in self.layers:
            if not isinstance(layer, (Layer, Model)):
                raise LstmkitError(f"save: layer {type(layer).__name__} is a plain torch module; only "
                                   "lstmkit layers can be described in config.json")
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        shape = list(self.input_shape) if self.input_shape is not None else None
        return {"name": self.name, "input_shape": shape, "layers": layers}

    @classmethod
    def from_config(cls, config):
        model = cls(name=config.get("name", "sequential"))
        if config.get("input_shape") is not None:
            model.add(Input(config["input_shape"]))
        for spec in config["layers"]:
            model.add(deserialize(spec, registry.MODELS))
        return model


def _count(module):
    return sum(p.numel() for p in module.parameters())


registry.register(Sequential)
