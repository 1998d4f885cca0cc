"""Keras-style `SimpleRNN` and `GRU`, running on lstmkit's kernels, with Keras 3's arguments and defaults.

Weights are held in torch's layout and gate order (GRU: r, z, n, see `cells.gru`); `get_weights` and
`set_weights` speak Keras' (kernels (I, G*H), gates z, r, h, and the GRU bias (2, 3H) with
reset_after=True or (3H,) without), through the tested conversions in `gates.py`. Parameter counts
equal Keras'. Masks follow Keras: a masked step keeps the state and repeats the previous output
(zeros before the first unmasked step), or outputs zeros with `zero_output_for_mask=True`.
"""
import numpy as np
import torch

from .. import gates, kernels
from ..kernels import ops
from ..kernels import mixed
from ..nn.checks import autocast_lowered
from .. import initializers as initializers_
from ..cells import LayerWeights
from ..errors import LstmkitError
from .base import Layer, check_features, default_name, initialize
from .recurrent import LSTM, repeat_last_valid

_UNSUPPORTED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                "kernel_constraint", "recurrent_constraint", "bias_constraint")


class _SingleStateRNN(Layer):
    """What SimpleRNN and GRU share: arguments, the kernel call, Keras' masks and states."""
    gates = 1

    def __init__(self, units, use_bias, initializers, options, dropout, recurrent_dropout, seed,
                 return_sequences, return_state, go_backwards, stateful, unroll, input_shape, name, engine,
                 zero_output_for_mask):
        super().__init__(input_shape, name)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise LstmkitError(f"units: expected a positive int, got {units!r}")
        for arg in _UNSUPPORTED:
            if options[arg] is not None:
                raise LstmkitError(f"{arg}: regularizers and constraints are not available on "
                                   f"{type(self).__name__} yet; expected None, got {options[arg]!r}")
        if seed is not None:
            raise LstmkitError(f"seed: per-layer dropout seeds are not available; expected None, got "
                               f"{seed!r} (lstmkit.set_seed seeds every dropout mask)")
        for arg, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= p < 1:
                raise LstmkitError(f"{arg}: expected a probability in [0, 1), got {p!r}")
        if engine not in kernels.ENGINES:
            raise LstmkitError(f"engine: expected one of {', '.join(kernels.ENGINES)}, got {engine!r}")
        self.units, self.use_bias, self.initializers = units, use_bias, initializers
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.unroll = go_backwards, stateful, unroll
        self.engine, self.zero_output_for_mask = engine, zero_output_for_mask
        self.states = None  # h (1, B, H), carried between calls when stateful

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise LstmkitError(f"{self.name or default_name(self)}: the feature axis of the input shape "
                               f"must be known, got {input_shape}")
        GH = self.gates * self.units
        self.input_size = int(features)
        self.weight_ih = torch.nn.Parameter(torch.empty(GH, self.input_size))
        self.weight_hh = torch.nn.Parameter(torch.empty(GH, self.units))
        self.bias = torch.nn.Parameter(torch.empty(self.bias_shape())) if self.use_bias else None
        self.register_buffer("zero_bias", torch.zeros(GH) if self.use_bias else None, persistent=False)
        self.reset_parameters()
        self.built = True

    def bias_shape(self):
        return (self.gates * self.units,)

    def reset_parameters(self):
        """Keras' initializers, by name, on the torch-layout tensors (whose fans equal Keras')."""
        initialize(self.weight_ih, self.initializers["kernel_initializer"], "kernel_initializer")
        initialize(self.weight_hh, self.initializers["recurrent_initializer"], "recurrent_initializer")
        if self.bias is not None:
            initialize(self.bias, self.initializers["bias_initializer"], "bias_initializer")

    def layer_weights(self) -> LayerWeights:
        """The kernels' view of this layer: one bias as b_ih and a zero b_hh (GRU overrides)."""
        return LayerWeights(self.weight_ih, self.weight_hh, self.bias, self.zero_bias)

    def kernel_config(self, masked=False, bidirectional=False, batch=0) -> kernels.KernelConfig:
        """The configuration the kernels are chosen for (`batch` matters to the plain LSTM only)."""
        """The configuration the kernels are chosen for (recurrent dropout only while training)."""
        return ops.captured(kernels.KernelConfig(
            bidirectional=bidirectional, bias=self.use_bias,
            recurrent_dropout=self.recurrent_dropout if self.training else 0.0, masked=masked,
            dtype=self.weight_ih.dtype, training=self.training, cell=self.cell,
            reset_after=getattr(self, "reset_after", True), hidden_size=self.units))

    def select_kernel(self, masked=False):
        """(kernel, reason), as `lstmkit.explain` reports it."""
        return kernels.select(self.kernel_config(masked), self.weight_ih.device, self.engine)

    def forward(self, x, mask=None, initial_state=None):
        """x (B, T, I), mask (B, T) bool or None, initial_state [h (B, H)] or h or None.

        Returns:
            (B, H), (B, T, H) with return_sequences; with return_state, [output, h (B, H)].
        """
        xt, mask_t = self.prepare(x, mask)
        h0 = self._initial_state(xt, initial_state)
        config = self.kernel_config(mask_t is not None)
        kernel, _ = kernels.select(config, xt.device, self.engine)
        y, h = mixed.run(kernel, xt, h0, [self.layer_weights()], config, self.training, mask=mask_t)
        if self.stateful:
            self.states = h.detach()
        if mask_t is not None and not self.zero_output_for_mask:
            y = repeat_last_valid(y, mask_t)
        out = y.transpose(0, 1) if self.return_sequences else y[-1]  # (B, T, H) or (B, H)
        return [out, h[0]] if self.return_state else out

    def prepare(self, x, mask):
        """Build if needed, check x, apply go_backwards and input dropout -> (x (T, B, I), mask (T, B))."""
        self.maybe_build(x)
        name = self.name or default_name(self)
        if x.dim() != 3:
            raise LstmkitError(f"{name}: expected input of shape (batch, time, {self.input_size}), "
                               f"got {tuple(x.shape)}")
        check_features(x, self.input_size, self)
        if x.dtype != self.weight_ih.dtype and not autocast_lowered(x, self.weight_ih):
            raise LstmkitError(f"{name}: expected {self.weight_ih.dtype} input (the layer's weights), "
                               f"got {x.dtype}")
        if self.go_backwards:
            x, mask = x.flip(1), (mask.flip(1) if mask is not None else None)
        if self.training and self.dropout > 0:  # one input mask per sequence, as in Keras
            x = x * torch.empty_like(x[:, :1]).bernoulli_(1 - self.dropout).div_(1 - self.dropout)
        return x.transpose(0, 1), (mask.transpose(0, 1).to(torch.bool) if mask is not None else None)

    def _initial_state(self, xt, initial_state):
        B = xt.shape[1]
        if initial_state is not None:
            h = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
            if tuple(h.shape) != (B, self.units):
                raise LstmkitError(f"initial_state: expected shape ({B}, {self.units}), got {tuple(h.shape)}")
            return h[None]  # (1, B, H)
        if self.stateful and self.states is not None:
            if self.states.shape[1] != B:
                raise LstmkitError(f"{self.name or default_name(self)}: stateful layer got a batch of {B} "
                                   f"after batches of {self.states.shape[1]}; use a batch_size that "
                                   "divides the data, or call reset_states()")
            return self.states
        return xt.new_zeros(1, B, self.units)

    def compute_output_shape(self, input_shape):
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        return [out, (B, self.units)] if self.return_state else out

    # As LSTM's: every recurrent layer passes masks, checks data and prints the same way.
    reset_states, compute_mask = LSTM.reset_states, LSTM.compute_mask
    check_data, extra_repr = LSTM.check_data, LSTM.extra_repr

    def get_config(self):
        inits = {k: initializers_.serialize(v) for k, v in self.initializers.items()}  # objects as dicts
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias, **inits,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "engine": self.engine, "zero_output_for_mask": self.zero_output_for_mask}


def _initializers(kernel_initializer, recurrent_initializer, bias_initializer):
    return {"kernel_initializer": kernel_initializer, "recurrent_initializer": recurrent_initializer,
            "bias_initializer": bias_initializer}


class SimpleRNN(_SingleStateRNN):
    """Fully connected recurrent layer with Keras 3's arguments; inputs are batch-first (B, T, I).

    h_t = φ(x_t W + h_{t-1} U + b) (`cells.rnn`), Keras' kernel W (I, H), recurrent_kernel U (H, H), bias (H,).

    Args:
        units: H.
        activation: φ, 'tanh' (default) or 'relu' (the kernels' math).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.
        kernel_regularizer ... bias_constraint: accepted for Keras' signature; must be None.
        dropout: input dropout, one mask per sequence; recurrent_dropout: variational, on h (training only).
        return_sequences, return_state, go_backwards, stateful: as in Keras (return_state: [output, h]).
        unroll: accepted for Keras' signature; the kernels never unroll, the result is the same.
        seed: must be None (`lstmkit.set_seed` seeds dropout).
        input_shape: (T or None, I), without the batch axis.
        engine: kernel to run ('auto', 'native', 'fused', 'reference'; keyword-only).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output (keyword-only).

    Example:
        >>> import torch
        >>> from lstmkit.layers import SimpleRNN
        >>> SimpleRNN(8, return_sequences=True)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """
    weight_layout = (("weight_ih", True), ("weight_hh", True), ("bias", False))

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, input_shape=None, name=None, *, engine="auto",
                 zero_output_for_mask=False):
        options = {k: v for k, v in locals().items() if k in _UNSUPPORTED}
        if activation not in ("tanh", "relu"):
            raise LstmkitError(f"activation: lstmkit's SimpleRNN kernels compute 'tanh' or 'relu', "
                               f"got {activation!r}")
        self.activation, self.cell = activation, f"rnn_{activation}"
        super().__init__(units, use_bias, _initializers(kernel_initializer, recurrent_initializer,
                                                        bias_initializer),
                         options, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, stateful, unroll, input_shape, name, engine, zero_output_for_mask)
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class GRU(_SingleStateRNN):
    """Gated recurrent unit (Cho et al. 2014) with Keras 3's arguments; inputs are batch-first (B, T, I).

    The equations are in `cells.gru`. Keras' weights: kernel (I, 3H), recurrent_kernel (H, 3H), gates
    (z, r, h); bias (2, 3H) (input and recurrent rows) with reset_after=True, Keras 3's default and
    torch's form, or (3H,) with reset_after=False (reset before the recurrent product; fused kernel).

    Args:
        units: H.
        activation, recurrent_activation: only 'tanh' and 'sigmoid' (the kernels' fixed math).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.
        kernel_regularizer ... bias_constraint: accepted for Keras' signature; must be None.
        dropout: input dropout, one mask per sequence; recurrent_dropout: variational, on h (training only).
        seed: must be None (`lstmkit.set_seed` seeds dropout).
        return_sequences, return_state, go_backwards, stateful: as in Keras (return_state: [output, h]).
        unroll: accepted for Keras' signature; the kernels never unroll, the result is the same.
        reset_after: see above (default True).
        use_cudnn: accepted for Keras' signature; `kernels.select` chooses the kernel on every device.
        input_shape: (T or None, I), without the batch axis.
        engine: kernel to run ('auto', 'native', 'fused', 'reference'; keyword-only).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output (keyword-only).

    Example:
        >>> import torch
        >>> from lstmkit.layers import GRU
        >>> GRU(8)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 8])
    """
    gates = 3
    cell = "gru"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 reset_after=True, use_cudnn="auto", input_shape=None, name=None, *, engine="auto",
                 zero_output_for_mask=False):
        options = {k: v for k, v in locals().items() if k in _UNSUPPORTED}
        if (activation, recurrent_activation) != ("tanh", "sigmoid"):
            raise LstmkitError("activation, recurrent_activation: lstmkit's GRU kernels compute the standard "
                               f"GRU ('tanh', 'sigmoid'), got ({activation!r}, {recurrent_activation!r})")
        self.reset_after, self.use_cudnn = bool(reset_after), use_cudnn
        super().__init__(units, use_bias, _initializers(kernel_initializer, recurrent_initializer,
                                                        bias_initializer),
                         options, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, stateful, unroll, input_shape, name, engine, zero_output_for_mask)
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def layer_weights(self) -> LayerWeights:
        """The kernels' view: with reset_after the bias rows are b_ih and b_hh (gates r, z, n)."""
        if self.reset_after and self.bias is not None:
            return LayerWeights(self.weight_ih, self.weight_hh, self.bias[0], self.bias[1])
        return super().layer_weights()

    def get_weights(self):
        """[kernel (I, 3H), recurrent_kernel (H, 3H), bias], Keras' layout and gate order (z, r, h)."""
        w = self.layer_weights()
        ws = gates.gru_torch_to_keras(w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, self.reset_after)
        return [t.detach().cpu().numpy().copy() for t in ws if t is not None]

    def set_weights(self, weights):
        """Set the weights from Keras' [kernel, recurrent_kernel, bias] (as `get_weights` returns)."""
        expected = [tuple(a.shape) for a in self.get_weights()]
        name = self.name or default_name(self)
        if len(weights) != len(expected):
            raise LstmkitError(f"set_weights: layer {name!r} expects {len(expected)} arrays, got {len(weights)}")
        for want, w in zip(expected, weights):
            if tuple(np.shape(w)) != want:
                raise LstmkitError(f"set_weights: layer {name!r} expects an array of shape {want}, "
                                   f"got {tuple(np.shape(w))}")
        ws = [torch.as_tensor(np.asarray(w), dtype=self.weight_ih.dtype) for w in weights]
        w_ih, w_hh, b_ih, b_hh = gates.gru_keras_to_torch(*ws, reset_after=self.reset_after)
        with torch.no_grad():
            self.weight_ih.copy_(w_ih)
            self.weight_hh.copy_(w_hh)
            if self.bias is not None:
                self.bias.copy_(torch.stack([b_ih, b_hh]) if self.reset_after else b_ih)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after, "use_cudnn": self.use_cudnn}
