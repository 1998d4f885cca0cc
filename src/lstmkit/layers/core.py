"""Keras-style core layers: Dense, Embedding, Dropout, Masking, Activation, TimeDistributed."""
import torch
import torch.nn.functional as F

from .. import activations, initializers
from ..errors import LstmkitError
from .base import Layer, check_features, initialize
from .base import activation as get_activation


class Dense(Layer):
    """Fully connected layer on the last axis: activation(x W + b).

    Args:
        units: output features.
        activation: Keras name ('relu', 'sigmoid', 'softmax', ...) or None for linear.
        use_bias: learn b.
        kernel_initializer, bias_initializer: Keras initializers (names, dicts or objects).
        kernel_regularizer, bias_regularizer, activity_regularizer: `lstmkit.regularizers`.
        kernel_constraint, bias_constraint: `lstmkit.constraints`, applied after each step.
        input_shape: without the batch axis; otherwise taken from the first input.
        input_dim: Keras' shorthand for input_shape=(input_dim,).

    Example:
        >>> import torch
        >>> from lstmkit.layers import Dense
        >>> Dense(2, activation="softmax")(torch.randn(4, 3)).shape
        torch.Size([4, 2])
    """
    weight_layout = (("weight", True), ("bias", False))

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 input_shape=None, name=None, input_dim=None):
        if input_dim is not None and input_shape is not None:
            raise LstmkitError("input_dim, input_shape: give one of them")
        super().__init__((input_dim,) if input_dim is not None else input_shape, name, activity_regularizer)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise LstmkitError(f"units: expected a positive int, got {units!r}")
        self.units, self.use_bias, self.activation_name = units, use_bias, activation
        self.activation = get_activation(activation)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_initializer_arg, self.bias_initializer_arg = kernel_initializer, bias_initializer
        self.set_weight_rules("weight", kernel_regularizer, kernel_constraint, "kernel")
        self.set_weight_rules("bias", bias_regularizer, bias_constraint, "bias")
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise LstmkitError(f"{self.name or 'dense'}: the last axis of the input must be known")
        self.in_features = int(input_shape[-1])
        self.weight = torch.nn.Parameter(torch.empty(self.units, self.in_features))  # (out, in)
        initialize(self.weight, self.kernel_initializer, "kernel_initializer", transposed=True)
        self.bias = None
        if self.use_bias:
            self.bias = torch.nn.Parameter(torch.empty(self.units))
            initialize(self.bias, self.bias_initializer, "bias_initializer")
        self.built = True

    def forward(self, x, mask=None):
        self.maybe_build(x)
        check_features(x, self.in_features, self)
        return self.activation(F.linear(x, self.weight, self.bias))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def check_data(self, x, name):
        if self.built and x.shape[-1] != self.in_features:
            raise LstmkitError(f"{name}: expected {self.in_features} features in the last axis "
                               f"(the model was built for them), got shape {tuple(x.shape)}")

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation_name), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer_arg),
                "bias_initializer": initializers.serialize(self.bias_initializer_arg),
                **self.rules_config(("weight", "kernel"), ("bias", "bias"))}


class Embedding(Layer):
    """Token ids (B, T) -> vectors (B, T, output_dim); `mask_zero` makes id 0 padding.

    Args:
        input_dim: vocabulary size (ids 0 .. input_dim - 1).
        output_dim: vector size.
        mask_zero: emit a mask that is False where the id is 0, for LSTM and Bidirectional.
        embeddings_initializer: a Keras initializer ('uniform': ±0.05, Keras' default).
        embeddings_regularizer, activity_regularizer, embeddings_constraint: as for Dense.
        input_shape: (T,) or (None,), without the batch axis.
    """
    weight_layout = (("weight", False),)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, activity_regularizer=None,
                 input_shape=None, input_length=None, name=None):
        super().__init__(input_shape or ((input_length,) if input_length else None), name,
                         activity_regularizer)
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise LstmkitError(f"{arg}: expected a positive int, got {v!r}")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        self.embeddings_initializer = embeddings_initializer
        self.weight = torch.nn.Parameter(torch.empty(input_dim, output_dim))
        initialize(self.weight, embeddings_initializer, "embeddings_initializer", transposed=False)
        self.set_weight_rules("weight", embeddings_regularizer, embeddings_constraint, "embeddings")
        self.built = True  # the weights do not depend on the input shape

    def forward(self, x, mask=None):
        return F.embedding(x.long(), self.weight)  # (B, T, output_dim)

    def compute_mask(self, x, mask):
        return x != 0 if self.mask_zero else mask

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def check_data(self, x, name):
        if x.is_floating_point() and not torch.equal(x, x.round()):
            raise LstmkitError(f"{name}: expected integer token ids for the Embedding, got fractions")
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= self.input_dim:
            raise LstmkitError(f"{name}: expected token ids in [0, {self.input_dim - 1}] "
                               f"(Embedding input_dim={self.input_dim}), got ids from {lo} to {hi}")

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                **self.rules_config(("weight", "embeddings"))}


class Dropout(Layer):
    """Zero each input with probability `rate` while training (scaled by 1/(1-rate)).

    Args:
        rate: the probability of dropping an input.
        noise_shape: the shape of the drawn keep-mask, broadcast over the input; None entries take the
            input's size, e.g. (None, 1, None) drops the same features at every time step.
        seed: makes the drawn masks repeatable.
    """

    def __init__(self, rate, noise_shape=None, seed=None, input_shape=None, name=None):
        super().__init__(input_shape, name)
        if not 0 <= rate < 1:
            raise LstmkitError(f"rate: expected a probability in [0, 1), got {rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise LstmkitError(f"seed: expected an int or None, got {seed!r}")
        self.rate, self.built = float(rate), True
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed, self._gen = seed, torch.Generator().manual_seed(seed) if seed is not None else None

    def forward(self, x, mask=None, training=None):
        if not (self.training if training is None else training) or self.rate == 0:
            return x
        if self.noise_shape is None and self._gen is None:
            return F.dropout(x, self.rate, True)
        shape = x.shape if self.noise_shape is None else \
            tuple(n if s is None else s for s, n in zip(self.noise_shape, x.shape))
        keep = torch.empty(shape, dtype=x.dtype).bernoulli_(1 - self.rate, generator=self._gen)
        return x * keep.div_(1 - self.rate).to(x.device)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": list(self.noise_shape) if self.noise_shape else None, "seed": self.seed}


class Activation(Layer):
    """Applies an activation by Keras name."""

    def __init__(self, activation, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.activation_name, self.fn, self.built = activation, get_activation(activation), True

    def forward(self, x, mask=None):
        return self.fn(x)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation_name)}


class Masking(Layer):
    """Marks time steps whose features all equal `mask_value` as padding, and zeroes them.

    Example:
        >>> import torch
        >>> from lstmkit.layers import Masking
        >>> Masking().compute_mask(torch.tensor([[[1.0], [0.0]]]), None)
        tensor([[ True, False]])
    """

    def __init__(self, mask_value=0.0, input_shape=None, name=None):
        super().__init__(input_shape, name)
        self.mask_value, self.built = float(mask_value), True

    def compute_mask(self, x, mask):
        return (x != self.mask_value).any(-1)  # (B, T)

    def forward(self, x, mask=None):
        return x * self.compute_mask(x, None)[..., None].to(x.dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class TimeDistributed(Layer):
    """Applies `layer` to every time step: (B, T, ...) -> (B, T, ...) with shared weights.

    Example:
        >>> import torch
        >>> from lstmkit.layers import Dense, TimeDistributed
        >>> TimeDistributed(Dense(2))(torch.randn(4, 5, 3)).shape
        torch.Size([4, 5, 2])
    """

    def __init__(self, layer, input_shape=None, name=None):
        if not isinstance(layer, Layer):
            raise LstmkitError(f"layer: expected an lstmkit layer, got {type(layer).__name__}")
        super().__init__(input_shape, name)
        self.layer = layer
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def forward(self, x, mask=None):
        self.maybe_build(x)
        B, T = x.shape[:2]
        y = self.layer(x.reshape(B * T, *x.shape[2:]))  # steps as samples
        return y.reshape(B, T, *y.shape[1:])

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def check_data(self, x, name):
        self.layer.check_data(x, name)

    def get_weights(self):
        return self.layer.get_weights()

    def set_weights(self, weights):
        self.layer.set_weights(weights)

    def get_config(self):
        inner = self.layer
        return {**super().get_config(),
                "layer": {"class_name": type(inner).__name__, "config": inner.get_config()}}
