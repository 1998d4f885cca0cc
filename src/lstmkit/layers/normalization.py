"""Keras-style normalisation over the feature axis (the last, channels last).

    LayerNormalization   y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and var over the
                         features of each step
    BatchNormalization   the same with mean and var over the batch (and time) while training, the
                         moving averages at inference; after each training call
                         moving = momentum * moving + (1 - momentum) * batch statistic
Variances are the biased ones (divided by n), eps = 1e-3 and momentum = 0.99 as in Keras. With a
mask (B, T), BatchNormalization's statistics use the valid steps only, as Keras 3 does.

Example:
    >>> import torch
    >>> from lstmkit.layers import LayerNormalization
    >>> LayerNormalization()(torch.randn(2, 5, 4)).shape
    torch.Size([2, 5, 4])
"""
import torch

from .. import initializers
from ..errors import LstmkitError
from .base import Layer, check_features, initialize

EPS = 1e-7  # Keras' backend.epsilon(), keeps masked statistics finite


class _FeatureNorm(Layer):
    """gamma and beta over the last axis, with their initializers, regularizers and constraints."""
    weight_layout = (("gamma", False), ("beta", False))

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, activity_regularizer, input_shape, name):
        super().__init__(input_shape, name, activity_regularizer)
        if axis not in (-1, [-1], (-1,)):
            raise LstmkitError(f"axis: lstmkit normalises the last axis (-1), got {axis!r}")
        if not epsilon > 0:
            raise LstmkitError(f"epsilon: expected a positive float, got {epsilon!r}")
        self.epsilon, self.center, self.scale = float(epsilon), center, scale
        self.init_args = {"beta_initializer": beta_initializer, "gamma_initializer": gamma_initializer}
        for arg, v in self.init_args.items():
            initializers.get(v, arg)
        self.set_weight_rules("gamma", gamma_regularizer, gamma_constraint, "gamma")
        self.set_weight_rules("beta", beta_regularizer, beta_constraint, "beta")

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise LstmkitError(f"{self.name or type(self).__name__}: the last axis of the input must be known")
        self.features = int(input_shape[-1])
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = torch.nn.Parameter(torch.empty(self.features))
            initialize(self.gamma, self.init_args["gamma_initializer"], "gamma_initializer")
        if self.center:
            self.beta = torch.nn.Parameter(torch.empty(self.features))
            initialize(self.beta, self.init_args["beta_initializer"], "beta_initializer")
        self.built = True

    def affine(self, x_hat):
        if self.gamma is not None:
            x_hat = x_hat * self.gamma
        return x_hat + self.beta if self.beta is not None else x_hat

    def get_config(self):
        return {**super().get_config(), "axis": -1, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, **{k: initializers.serialize(v) for k, v in self.init_args.items()},
                **self.rules_config(("gamma", "gamma"), ("beta", "beta"))}


class LayerNormalization(_FeatureNorm):
    """Normalises each step's features (see the module docstring); Keras' defaults."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, activity_regularizer=None, input_shape=None,
                 name=None):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         activity_regularizer, input_shape, name)
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def forward(self, x, mask=None):
        self.maybe_build(x)
        check_features(x, self.features, self)
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return self.affine((x - mean) * torch.rsqrt(var + self.epsilon))


class BatchNormalization(_FeatureNorm):
    """Normalises each feature over the batch while training, by its moving statistics at inference.

    Args:
        momentum: of the moving averages (Keras' 0.99).
        epsilon, center, scale, beta/gamma initializers, regularizers and constraints: as Keras.
        moving_mean_initializer, moving_variance_initializer: Keras' 'zeros' and 'ones'.

    `layer(x, training=True)` forces training behaviour, as in Keras; otherwise `model.train()` /
    `model.eval()` decide (fit trains, predict and evaluate do not).
    """
    weight_layout = (("gamma", False), ("beta", False), ("moving_mean", False), ("moving_variance", False))

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, activity_regularizer=None, input_shape=None,
                 name=None):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                         activity_regularizer, input_shape, name)
        if not 0 <= momentum <= 1:
            raise LstmkitError(f"momentum: expected a float in [0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        self.init_args.update(moving_mean_initializer=moving_mean_initializer,
                              moving_variance_initializer=moving_variance_initializer)
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        super().build(input_shape)
        for attr in ("moving_mean", "moving_variance"):
            self.register_buffer(attr, torch.empty(self.features))
            initialize(getattr(self, attr), self.init_args[f"{attr}_initializer"], f"{attr}_initializer")

    def forward(self, x, mask=None, training=None):
        self.maybe_build(x)
        check_features(x, self.features, self)
        if not (self.training if training is None else training):
            return self.affine((x - self.moving_mean) * torch.rsqrt(self.moving_variance + self.epsilon))
        mean, var = _moments(x, mask)  # (F,) each
        with torch.no_grad():
            self.moving_mean.mul_(self.momentum).add_(mean.detach() * (1 - self.momentum))
            self.moving_variance.mul_(self.momentum).add_(var.detach() * (1 - self.momentum))
        return self.affine((x - mean) * torch.rsqrt(var + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


def _moments(x, mask):
    """Mean and biased variance of each feature over all other axes (valid steps only with a mask)."""
    axes = tuple(range(x.dim() - 1))
    if mask is None:
        var, mean = torch.var_mean(x, dim=axes, correction=0)
        return mean, var
    m = mask[..., None].to(x.dtype).expand_as(x)
    n = m.sum(axes) + EPS
    mean = (x * m).sum(axes) / n
    var = ((x - mean) * m).square().sum(axes) / n
    return mean, var
