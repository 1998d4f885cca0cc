"""Keras-style `LSTM` and `Bidirectional`, running on lstmkit's kernels.

Keras keeps one bias per LSTM layer, so these layers own `weight_ih` (4H, I), `weight_hh` (4H, H) and
one `bias` (4H,) in torch's layout and gate order (i, f, g, o); the kernels' second bias is a zero
buffer that is neither trained nor saved. Parameter counts therefore equal Keras':
4 * (H * (I + H) + H). `get_weights` returns Keras' layout (kernels transposed, see `gates.py`).
"""
import torch

from .. import activations, initializers, kernels
from ..cells import LayerWeights
from ..cells.lstm_variant import VariantSpec, VariantWeights
from ..errors import LstmkitError
from ..kernels import mixed, ops
from ..nn import init as nn_init
from ..nn.checks import autocast_lowered, check_lstm_args
from ..nn import variants
from .base import Layer, check_features, initialize

USE_CUDNN = ("auto", True, False)


class LSTM(Layer):
    """Long Short-Term Memory layer with Keras 3's arguments in Keras' order; inputs are batch-first
    (B, T, I).

    Args:
        units: H, the size of the hidden and cell state.
        activation, recurrent_activation: Keras names (`cells/activations.py`); other than 'tanh' and
            'sigmoid' they run on the variants' fused kernel.
        use_bias: learn the bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras initializers (names, dicts
            or `lstmkit.initializers` objects), drawn for Keras' shapes (I, 4H), (H, 4H), (4H,).
        unit_forget_bias: the forget gate's bias starts at 1 (the rest from bias_initializer).
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            `lstmkit.regularizers`; activity penalises every output (with return_state, h and c too).
        kernel_constraint, recurrent_constraint, bias_constraint: `lstmkit.constraints`.
        dropout: input dropout, one mask per sequence (training only).
        recurrent_dropout: variational dropout on h, one mask per sequence; runs on the fused kernel.
        seed: seeds the input dropout masks (a repeatable sequence of masks).
        return_sequences: output (B, T, H) rather than the last output (B, H).
        return_state: also return the final h and c: [output, h, c].
        go_backwards: read the sequence backwards (the output sequence is then reversed, as in Keras).
        stateful: carry the final state of batch k into batch k of the next call (same batch size;
            `reset_state()` zeroes it).
        unroll, use_cudnn, implementation: accepted for Keras programs; lstmkit's kernel choice
            (`lstmkit.explain`) decides how the loop runs, the results are the same.
        zero_output_for_mask: masked steps output zeros; by default (Keras') a masked step repeats the
            previous step's output (zeros before the first valid step).
        input_shape: (T or None, I), without the batch axis.
        engine: kernel to run ('auto', 'native', 'fused', 'reference'; keyword-only).
        peephole, cifg, layer_norm, zoneout: the LSTM variants (keyword-only), as in `lstmkit.nn.LSTM`;
            the rule and the weights they add are in `lstmkit.nn.variants`.

    Example:
        >>> import torch
        >>> from lstmkit.layers import LSTM
        >>> LSTM(8, return_sequences=True)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """
    weight_layout = (("weight_ih", True), ("weight_hh", True), ("bias", False), ("peephole", False),
                     ("ln_ih", False), ("ln_hh", False), ("ln_c_weight", False), ("ln_c_bias", False))
    state_count = 2  # h and c

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", implementation=2,
                 zero_output_for_mask=False,
                 input_shape=None, name=None, *, engine="auto",
                 peephole=False, cifg=False, layer_norm=False, zoneout=0.0):
        super().__init__(input_shape, name, activity_regularizer)
        check_lstm_args([("units", units)], [("dropout", dropout), ("recurrent_dropout", recurrent_dropout)],
                        engine)
        self.spec = variants.parse(peephole, cifg, layer_norm, zoneout, activation, recurrent_activation)
        _check_keras_flags(use_cudnn, implementation, seed)
        self.units, self.use_bias, self.unit_forget_bias = units, use_bias, unit_forget_bias
        self.initializer_args = {"kernel_initializer": kernel_initializer,
                                 "recurrent_initializer": recurrent_initializer,
                                 "bias_initializer": bias_initializer}
        self.initializers = {arg: initializers.get(v, arg) for arg, v in self.initializer_args.items()}
        for attr, arg, reg, con in (("weight_ih", "kernel", kernel_regularizer, kernel_constraint),
                                    ("weight_hh", "recurrent", recurrent_regularizer, recurrent_constraint),
                                    ("bias", "bias", bias_regularizer, bias_constraint)):
            self.set_weight_rules(attr, reg, con, arg)
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), float(recurrent_dropout), seed
        self._dropout_gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.engine = go_backwards, stateful, engine
        self.unroll, self.use_cudnn, self.implementation = unroll, use_cudnn, implementation
        self.zero_output_for_mask = zero_output_for_mask
        self.states = None  # (h, c), each (1, B, H), carried between calls when stateful
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise LstmkitError(f"{self.name or 'lstm'}: the feature axis of the input shape must be "
                               f"known, got {input_shape}")
        H, G = self.units, len(self.spec.gates)
        self.input_size = int(features)
        self.weight_ih = torch.nn.Parameter(torch.empty(G * H, self.input_size))
        self.weight_hh = torch.nn.Parameter(torch.empty(G * H, H))
        self.bias = torch.nn.Parameter(torch.empty(G * H)) if self.use_bias else None
        self.register_buffer("zero_bias", torch.zeros(G * H) if self.use_bias else None, persistent=False)
        for k, shape in variants.extra_shapes(self.spec, H).items():
            self.register_parameter(k, torch.nn.Parameter(torch.empty(shape)))
        self.reset_parameters()
        self.built = True

    def reset_parameters(self):
        """Keras' initialisation: each initializer drawn for the Keras shape of its weight; with
        unit_forget_bias the bias is [init((H,)), ones(H), init((2H,))] as in Keras' LSTMCell. A variant's
        own parameters (peepholes, layer-norm gains) start as `lstmkit.nn.variants.reset` sets them."""
        if self.spec != VariantSpec():
            variants.reset(self.layer_weights(), self.spec, "keras")
        initialize(self.weight_ih, self.initializers["kernel_initializer"], "kernel_initializer", True)
        initialize(self.weight_hh, self.initializers["recurrent_initializer"], "recurrent_initializer", True)
        if self.bias is None:
            return
        H, init = self.units, self.initializers["bias_initializer"]
        with torch.no_grad():
            if self.unit_forget_bias and not self.spec.cifg:  # gate order (i, f, g, o); CIFG has no f
                initialize(self.bias[:H], init, "bias_initializer")
                self.bias[H:2 * H] = 1.0
                initialize(self.bias[2 * H:], init, "bias_initializer")
            else:
                initialize(self.bias, init, "bias_initializer")

    def layer_weights(self) -> LayerWeights | VariantWeights:
        """The kernels' view of this layer: Keras' one bias as b_ih, a zero b_hh."""
        if self.spec == VariantSpec():
            return LayerWeights(self.weight_ih, self.weight_hh, self.bias, self.zero_bias)
        extra = {k: getattr(self, k) for k in variants.extra_shapes(self.spec, self.units)}
        return VariantWeights(self.weight_ih, self.weight_hh, self.bias, self.zero_bias, **extra)

    def kernel_config(self, masked=False, bidirectional=False, batch=0) -> kernels.KernelConfig:
        """The configuration the kernels are chosen for (recurrent dropout only while training)."""
        return ops.captured(kernels.KernelConfig(
            bidirectional=bidirectional, bias=self.use_bias,
            recurrent_dropout=self.recurrent_dropout if self.training else 0.0, masked=masked,
            dtype=self.weight_ih.dtype, training=self.training, hidden_size=self.units, batch=batch,
            **variants.config_fields(self.spec)))

    def select_kernel(self, masked=False):
        """(kernel, reason), as `lstmkit.explain` reports it."""
        return kernels.select(self.kernel_config(masked), self.weight_ih.device, self.engine)

    def forward(self, x, mask=None, initial_state=None):
        """x (B, T, I), mask (B, T) bool or None, initial_state [h (B, H), c (B, H)] or None.

        Returns:
            (B, H), (B, T, H) with return_sequences; with return_state, [output, h (B, H), c (B, H)].
        """
        xt, mask_t = self.prepare(x, mask)
        hx = self._initial_state(xt, initial_state)
        config = self.kernel_config(mask_t is not None, batch=xt.shape[1])
        kernel, _ = kernels.select(config, xt.device, self.engine)
        y, (h, c) = mixed.run(kernel, xt, hx, [self.layer_weights()], config, self.training, mask=mask_t)
        if self.stateful:
            self.states = (h.detach(), c.detach())
        out = self._outputs(y, h[0], mask_t)  # (B, T, H) or (B, H)
        return [out, h[0], c[0]] if self.return_state else out

    def _outputs(self, y, h, mask_t):
        """Keras' outputs from the kernel's y (T, B, H) (zeros at masked steps) and final h (B, H).

        By default a masked step repeats the previous output (zeros before the first valid step), so
        the last output is the last valid step's h; with zero_output_for_mask, masked steps output 0.
        """
        if mask_t is None:
            return y.transpose(0, 1) if self.return_sequences else h
        if not self.return_sequences:
            keep = mask_t[-1] if self.zero_output_for_mask else mask_t.any(0)  # (B,)
            return h * keep[:, None].to(h.dtype)
        if not self.zero_output_for_mask:
            y = repeat_last_valid(y, mask_t)
        return y.transpose(0, 1)

    def prepare(self, x, mask):
        """Build if needed, check x, apply go_backwards and input dropout -> (x (T, B, I), mask (T, B))."""
        self.maybe_build(x)
        if x.dim() != 3:
            raise LstmkitError(f"{self.name or 'lstm'}: expected input of shape (batch, time, "
                               f"{self.input_size}), got {tuple(x.shape)}")
        check_features(x, self.input_size, self)
        if x.dtype != self.weight_ih.dtype and not autocast_lowered(x, self.weight_ih):
            raise LstmkitError(f"{self.name or 'lstm'}: expected {self.weight_ih.dtype} input (the "
                               f"layer's weights), got {x.dtype}")
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if self.training and self.dropout > 0:  # one input mask per sequence, as in Keras
            keep = torch.empty(x[:, :1].shape, dtype=x.dtype)
            keep = keep.bernoulli_(1 - self.dropout, generator=self._dropout_gen).div_(1 - self.dropout)
            x = x * keep.to(x.device)
        return x.transpose(0, 1), (mask.transpose(0, 1) if mask is not None else None)

    def _initial_state(self, xt, initial_state):
        B = xt.shape[1]
        if initial_state is not None:
            h, c = initial_state
            return h[None], c[None]  # (1, B, H)
        if self.stateful and self.states is not None:
            if self.states[0].shape[1] != B:
                raise LstmkitError(f"{self.name or 'lstm'}: stateful layer got a batch of {B} "
                                   f"after batches of {self.states[0].shape[1]}; use a batch_size "
                                   "that divides the data, or call reset_states()")
            return self.states
        zeros = xt.new_zeros(1, B, self.units)
        return zeros, zeros

    def reset_states(self):
        """Forget the carried state (stateful layers)."""
        self.states = None

    def reset_state(self):
        """Keras 3's name for `reset_states()`."""
        self.reset_states()

    def compute_output_shape(self, input_shape):
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        return [out, (B, self.units), (B, self.units)] if self.return_state else out

    def compute_mask(self, x, mask):
        if not self.return_sequences or mask is None:
            return None
        return mask.flip(1) if self.go_backwards else mask

    def check_data(self, x, name):
        if self.built and x.dim() >= 1 and x.shape[-1] != self.input_size:
            raise LstmkitError(f"{name}: expected {self.input_size} features in the last axis "
                               f"(the model was built for them), got shape {tuple(x.shape)}")

    def get_config(self):
        inits = {k: initializers.serialize(v) for k, v in self.initializer_args.items()}
        return {**super().get_config(), "units": self.units, "activation": self.spec.activation,
                "recurrent_activation": self.spec.recurrent_activation, "use_bias": self.use_bias,
                **inits, "unit_forget_bias": self.unit_forget_bias,
                **self.rules_config(("weight_ih", "kernel"), ("weight_hh", "recurrent"), ("bias", "bias")),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "use_cudnn": self.use_cudnn, "implementation": self.implementation,
                "zero_output_for_mask": self.zero_output_for_mask, "engine": self.engine,
                **_variant_config(self.spec)}

    def extra_repr(self):
        return f"{self.units}, return_sequences={self.return_sequences}"


def _check_keras_flags(use_cudnn, implementation, seed):
    if use_cudnn not in USE_CUDNN:
        raise LstmkitError(f"use_cudnn: expected 'auto', True or False, got {use_cudnn!r}")
    if implementation not in (1, 2):
        raise LstmkitError(f"implementation: expected 1 or 2, got {implementation!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise LstmkitError(f"seed: expected an int or None, got {seed!r}")


def repeat_last_valid(y, mask_t):
    """Keras' masked outputs: y (T, B, H) with each masked step (mask_t (T, B) False) replaced by the
    last valid step's output (zeros before the first); the LSTM and the single-state layers use it."""
    T = y.shape[0]
    steps = torch.arange(T, device=y.device)[:, None].expand_as(mask_t)  # (T, B)
    last = torch.where(mask_t, steps, torch.full_like(steps, -1)).cummax(0).values  # (T, B)
    out = y.gather(0, last.clamp(min=0)[..., None].expand_as(y))
    return out * (last >= 0)[..., None].to(y.dtype)


MERGE_MODES = {"concat": lambda a, b: torch.cat([a, b], -1), "sum": torch.add, "mul": torch.mul,
               "ave": lambda a, b: (a + b) / 2}


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards in one kernel call and merges the outputs.

    Args:
        layer: an `LSTM`, `GRU`, `SimpleRNN`, `MinLSTM` or `MinGRU` (its config is copied for the backward
            direction; weights are separate).
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None (a list [forward, backward]).
        input_shape: as for LSTM (or given to the wrapped layer).
        backward_layer: Keras' option: the backward LSTM (go_backwards=True, same units and outputs);
            the run (dropout, kernel) follows the forward layer's settings.

    The wrapped layer's input `dropout` mask is shared by both directions. Keras returns, without
    return_sequences, the forward output at the last step and the backward output at the first; with
    return_sequences masked steps output zeros in both directions (Keras sets zero_output_for_mask).
    return_state adds each direction's final states ([output, h_f, c_f, h_b, c_b] for an LSTM,
    [output, h_f, h_b] for the single-state layers).

    Example:
        >>> import torch
        >>> from lstmkit.layers import LSTM, Bidirectional
        >>> Bidirectional(LSTM(4))(torch.randn(2, 5, 3)).shape
        torch.Size([2, 8])
    """

    def __init__(self, layer, merge_mode="concat", input_shape=None, name=None, backward_layer=None):
        if not isinstance(layer, Layer) or not hasattr(layer, "layer_weights"):  # LSTM, GRU, SimpleRNN, MinLSTM, ...
            raise LstmkitError("layer: Bidirectional wraps an lstmkit.layers.LSTM, GRU, SimpleRNN, MinLSTM or "
                               f"MinGRU, got {type(layer).__name__}")
        if merge_mode is not None and merge_mode not in MERGE_MODES:
            raise LstmkitError(f"merge_mode: expected one of {', '.join(MERGE_MODES)} or None, got {merge_mode!r}")
        if layer.stateful or layer.go_backwards:
            raise LstmkitError("layer: Bidirectional needs a layer with stateful=False and go_backwards=False")
        super().__init__(input_shape or layer.input_shape, name)
        self.merge_mode = merge_mode
        self.forward_layer = layer
        self.given_backward = backward_layer is not None
        self.backward_layer = _backward_layer(layer, backward_layer)
        if self.input_shape is not None:
            self.build((None, *self.input_shape))

    def build(self, input_shape):
        for d in (self.forward_layer, self.backward_layer):
            if not d.built:
                d.build(input_shape)
        self.built = True

    def forward(self, x, mask=None):
        """x (B, T, I), mask (B, T) or None -> merged (B, 2H or H) or (B, T, 2H or H)."""
        self.maybe_build(x)
        fw, bw = self.forward_layer, self.backward_layer
        xt, mask_t = fw.prepare(x, mask)
        config = fw.kernel_config(mask_t is not None, bidirectional=True, batch=xt.shape[1])
        kernel, _ = kernels.select(config, xt.device, fw.engine)
        zeros = xt.new_zeros(2, xt.shape[1], fw.units)
        two = getattr(fw, "state_count", 1) == 2  # LSTM: (h, c); GRU, SimpleRNN, MinLSTM, MinGRU: h
        hx = (zeros, zeros) if two else zeros
        y, states = mixed.run(kernel, xt, hx, [fw.layer_weights(), bw.layer_weights()], config,
                               self.training, mask=mask_t)  # y (T, B, 2H): [forward, backward]
        states = states if two else (states,)  # each (2, B, H)
        h = states[0]
        if fw.return_sequences:
            out = y.transpose(0, 1)  # (B, T, 2H)
            out = out if self.merge_mode == "concat" else self._merge(*out.chunk(2, -1))
        else:  # Keras: a row with no valid step outputs zeros
            valid = mask_t.any(0)[:, None].to(h.dtype) if mask_t is not None else 1
            out = self._merge(h[0] * valid, h[1] * valid)
        outs = out if self.merge_mode is None else [out]  # Keras: [forward, backward] for None
        if not fw.return_state:
            return outs if len(outs) > 1 else out
        return [*outs, *[s_[0] for s_ in states], *[s_[1] for s_ in states]]

    def _merge(self, a, b):
        return [a, b] if self.merge_mode is None else MERGE_MODES[self.merge_mode](a, b)

    def select_kernel(self, masked=False):
        fw = self.forward_layer
        return kernels.select(fw.kernel_config(masked, True), fw.weight_ih.device, fw.engine)

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        out = out[0] if self.forward_layer.return_state else out
        units = out[-1] * (2 if self.merge_mode == "concat" else 1)
        out = (*out[:-1], units)
        outs = [out, out] if self.merge_mode is None else [out]
        state = (input_shape[0], self.forward_layer.units)
        if self.forward_layer.return_state:
            return [*outs, *[state] * (2 * getattr(self.forward_layer, "state_count", 1))]
        return outs if len(outs) > 1 else out

    def compute_mask(self, x, mask):
        return mask if self.forward_layer.return_sequences else None

    def check_data(self, x, name):
        self.forward_layer.check_data(x, name)

    def get_weights(self):
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights):
        n = len(self.forward_layer.get_weights())
        self.forward_layer.set_weights(weights[:n])
        self.backward_layer.set_weights(weights[n:])

    def get_config(self):
        kind = type(self.forward_layer).__name__
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": {"class_name": kind, "config": self.forward_layer.get_config()}}
        if self.given_backward:
            config["backward_layer"] = {"class_name": kind, "config": self.backward_layer.get_config()}
        return config


def _backward_layer(layer, backward):
    """The backward direction: a copy of `layer`'s config, or Keras' `backward_layer` (a layer of the same
    kind with go_backwards=True and the forward layer's units and outputs; its own weights and initializers)."""
    kind = type(layer)
    if backward is None:
        return kind(**{**layer.get_config(), "input_shape": None, "name": None})
    if isinstance(backward, dict):  # as get_config writes it
        backward = kind(**backward.get("config", backward))
    if not isinstance(backward, kind) or not backward.go_backwards:
        raise LstmkitError(f"backward_layer: expected an lstmkit.layers.{kind.__name__} with go_backwards=True, "
                           f"got {backward!r}")
    for attr in ("units", "return_sequences", "return_state"):
        if getattr(backward, attr) != getattr(layer, attr):
            raise LstmkitError(f"backward_layer: expected {attr}={getattr(layer, attr)!r} as the forward "
                               f"layer, got {getattr(backward, attr)!r}")
    return backward


def _variant_config(spec: VariantSpec) -> dict:
    """The variant options as LSTM's keyword arguments, for get_config: only those that are set, so the
    config of a standard LSTM is one Keras itself reads (export_keras)."""
    options = {"peephole": spec.peephole, "cifg": spec.cifg, "layer_norm": spec.layer_norm,
               "zoneout": [spec.zoneout_c, spec.zoneout_h]}
    return {k: v for k, v in options.items() if v not in (False, [0.0, 0.0])}
