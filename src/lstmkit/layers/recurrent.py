"""Keras-style `LSTM` and `Bidirectional`, running on lstmkit's kernels.

Keras keeps one bias per LSTM layer, so these layers own `weight_ih` (4H, I), `weight_hh` (4H, H) and
one `bias` (4H,) in torch's layout and gate order (i, f, g, o); the kernels' second bias is a zero
buffer that is neither trained nor saved. Parameter counts therefore equal Keras':
4 * (H * (I + H) + H). `get_weights` returns Keras' layout (kernels transposed, see `gates.py`).
"""
import torch

from .. import kernels
from ..cells import LayerWeights
from ..cells.lstm_variant import VariantSpec, VariantWeights
from ..errors import LstmkitError
from ..kernels import ops
from ..nn import init as nn_init
from ..nn.checks import check_lstm_args
from ..nn import variants
from .base import Layer, check_features, initialize

KERAS_DEFAULT_INIT = {"kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal",
                      "bias_initializer": "zeros"}


class LSTM(Layer):
    """Long Short-Term Memory layer with Keras' arguments; inputs are batch-first (B, T, I).

    Args:
        units: H, the size of the hidden and cell state.
        activation, recurrent_activation: Keras names (`cells/activations.py`); other than 'tanh' and
            'sigmoid' they run on the variants' fused kernel.
        use_bias: learn the bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras initializer names.
        unit_forget_bias: start the forget gate's bias at 1.
        dropout: input dropout, one mask per sequence (training only).
        recurrent_dropout: variational dropout on h, one mask per sequence; runs on the fused kernel.
        return_sequences: output (B, T, H) rather than the last output (B, H).
        return_state: also return the final h and c: [output, h, c].
        go_backwards: read the sequence backwards (the output sequence is then reversed, as in Keras).
        stateful: carry the final state of batch k into batch k of the next call (same batch size;
            `reset_states()` zeroes it).
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
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 input_shape=None, name=None, *, engine="auto",
                 peephole=False, cifg=False, layer_norm=False, zoneout=0.0):
        super().__init__(input_shape, name)
        check_lstm_args([("units", units)], [("dropout", dropout), ("recurrent_dropout", recurrent_dropout)],
                        engine)
        self.spec = variants.parse(peephole, cifg, layer_norm, zoneout, activation, recurrent_activation)
        self.units, self.use_bias, self.unit_forget_bias = units, use_bias, unit_forget_bias
        self.initializers = {"kernel_initializer": kernel_initializer,
                             "recurrent_initializer": recurrent_initializer,
                             "bias_initializer": bias_initializer}
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.engine = go_backwards, stateful, engine
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
        """Keras' default initialisation (`lstmkit.nn.init.keras_`), then any other initializer asked for."""
        w = self.layer_weights()
        if self.spec == VariantSpec():
            nn_init.keras_(w)
        else:
            variants.reset(w, self.spec, "keras")
        for arg, tensor in (("kernel_initializer", w.weight_ih), ("recurrent_initializer", w.weight_hh)):
            if self.initializers[arg] != KERAS_DEFAULT_INIT[arg]:
                initialize(tensor, self.initializers[arg], arg)
        if self.bias is not None:
            initialize(self.bias, self.initializers["bias_initializer"], "bias_initializer")
            if self.unit_forget_bias and not self.spec.cifg:
                with torch.no_grad():
                    self.bias[self.units:2 * self.units] = 1.0  # gate order (i, f, g, o)

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
        y, (h, c) = kernel.run(xt, hx, [self.layer_weights()], config, self.training, mask=mask_t)
        if self.stateful:
            self.states = (h.detach(), c.detach())
        out = y.transpose(0, 1) if self.return_sequences else h[0]  # (B, T, H) or (B, H)
        return [out, h[0], c[0]] if self.return_state else out

    def prepare(self, x, mask):
        """Build if needed, check x, apply go_backwards and input dropout -> (x (T, B, I), mask (T, B))."""
        self.maybe_build(x)
        if x.dim() != 3:
            raise LstmkitError(f"{self.name or 'lstm'}: expected input of shape (batch, time, "
                               f"{self.input_size}), got {tuple(x.shape)}")
        check_features(x, self.input_size, self)
        if x.dtype != self.weight_ih.dtype:
            raise LstmkitError(f"{self.name or 'lstm'}: expected {self.weight_ih.dtype} input (the "
                               f"layer's weights), got {x.dtype}")
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if self.training and self.dropout > 0:  # one input mask per sequence, as in Keras
            keep = torch.empty_like(x[:, :1]).bernoulli_(1 - self.dropout).div_(1 - self.dropout)
            x = x * keep
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
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                **self.initializers, "unit_forget_bias": self.unit_forget_bias,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "engine": self.engine,
                **_variant_config(self.spec)}

    def extra_repr(self):
        return f"{self.units}, return_sequences={self.return_sequences}"


MERGE_MODES = {"concat": lambda a, b: torch.cat([a, b], -1), "sum": torch.add, "mul": torch.mul,
               "ave": lambda a, b: (a + b) / 2}


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards in one kernel call and merges the outputs.

    Args:
        layer: an `LSTM`, `GRU` or `SimpleRNN` (its config is copied for the backward direction; weights
            are separate).
        merge_mode: 'concat' (default), 'sum', 'mul' or 'ave'.
        input_shape: as for LSTM (or given to the wrapped layer).

    The wrapped layer's input `dropout` mask is shared by both directions. Keras returns, without
    return_sequences, the forward output at the last step and the backward output at the first;
    return_state adds each direction's final states ([output, h_f, c_f, h_b, c_b] for an LSTM,
    [output, h_f, h_b] for a GRU or SimpleRNN).

    Example:
        >>> import torch
        >>> from lstmkit.layers import LSTM, Bidirectional
        >>> Bidirectional(LSTM(4))(torch.randn(2, 5, 3)).shape
        torch.Size([2, 8])
    """

    def __init__(self, layer, merge_mode="concat", input_shape=None, name=None):
        if not isinstance(layer, Layer) or not hasattr(layer, "layer_weights"):  # LSTM, GRU, SimpleRNN, MinLSTM, ...
            raise LstmkitError("layer: Bidirectional wraps an lstmkit.layers.LSTM, GRU, SimpleRNN, MinLSTM or "
                               f"MinGRU, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise LstmkitError(f"merge_mode: expected one of {', '.join(MERGE_MODES)}, got {merge_mode!r}")
        if layer.stateful or layer.go_backwards:
            raise LstmkitError("layer: Bidirectional needs a layer with stateful=False and go_backwards=False")
        super().__init__(input_shape or layer.input_shape, name)
        config = {**layer.get_config(), "input_shape": None, "name": None}
        self.merge_mode = merge_mode
        self.forward_layer = layer
        self.backward_layer = type(layer)(**config)
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
        y, states = kernel.run(xt, hx, [fw.layer_weights(), bw.layer_weights()], config,
                               self.training, mask=mask_t)  # y (T, B, 2H): [forward, backward]
        states = states if two else (states,)  # each (2, B, H)
        h = states[0]
        if fw.return_sequences:
            out = y.transpose(0, 1)  # (B, T, 2H)
            out = out if self.merge_mode == "concat" else MERGE_MODES[self.merge_mode](*out.chunk(2, -1))
        else:
            out = MERGE_MODES[self.merge_mode](h[0], h[1])
        return [out, *[s[0] for s in states], *[s[1] for s in states]] if fw.return_state else out

    def select_kernel(self, masked=False):
        fw = self.forward_layer
        return kernels.select(fw.kernel_config(masked, True), fw.weight_ih.device, fw.engine)

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        out = out[0] if self.forward_layer.return_state else out
        units = out[-1] * (2 if self.merge_mode == "concat" else 1)
        out = (*out[:-1], units)
        state = (input_shape[0], self.forward_layer.units)
        states = 2 * getattr(self.forward_layer, "state_count", 1)
        return [out, *[state] * states] if self.forward_layer.return_state else out

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
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward_layer).__name__, "config": self.forward_layer.get_config()}}


def _variant_config(spec: VariantSpec) -> dict:
    """The variant options as LSTM's keyword arguments, for get_config."""
    # Keras has activation and recurrent_activation; lstmkit's own options appear only when set, so the
    # config of a standard LSTM is one Keras itself reads (export_keras).
    options = {"peephole": spec.peephole, "cifg": spec.cifg, "layer_norm": spec.layer_norm,
               "zoneout": [spec.zoneout_c, spec.zoneout_h]}
    return {"activation": spec.activation, "recurrent_activation": spec.recurrent_activation,
            **{k: v for k, v in options.items() if v not in (False, [0.0, 0.0])}}
