"""Keras-style `MinLSTM` and `MinGRU` layers (Feng et al. 2024), trained as a parallel scan.

They behave as the Keras-style LSTM (masks, return_sequences, return_state, go_backwards, stateful,
Bidirectional) with one state h: return_state gives [output, h]. Weights: `weight_ih` (k·H, I) with
the blocks of `cells/min_rnn.py` and one `bias` (k·H,); get_weights returns the kernel as (I, k·H).
"""
import torch

from .. import initializers as initializers_
from .. import kernels
from ..kernels import mixed, ops
from ..cells import min_rnn
from ..errors import LstmkitError
from .base import initialize
from .recurrent import LSTM


class _MinRNNLayer(LSTM):
    cell = ""
    weight_layout = (("weight_ih", True), ("bias", False))
    state_count = 1  # h only

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 dropout=0.0, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 input_shape=None, name=None, *, engine="auto"):
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        super().__init__(units, use_bias=use_bias, dropout=dropout, return_sequences=return_sequences,
                         return_state=return_state, go_backwards=go_backwards, stateful=stateful,
                         input_shape=input_shape, name=name, engine=engine)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise LstmkitError(f"{self.name or self.cell}: the feature axis of the input shape must be "
                               f"known, got {input_shape}")
        k = len(min_rnn.BLOCKS[self.cell])
        self.input_size = int(features)
        self.weight_ih = torch.nn.Parameter(torch.empty(k * self.units, self.input_size))
        self.bias = torch.nn.Parameter(torch.empty(k * self.units)) if self.use_bias else None
        self.reset_parameters()
        self.built = True

    def reset_parameters(self):
        initialize(self.weight_ih, self.kernel_initializer, "kernel_initializer")
        if self.bias is not None:
            initialize(self.bias, self.bias_initializer, "bias_initializer")

    def layer_weights(self) -> min_rnn.MinWeights:
        return min_rnn.MinWeights(self.cell, self.weight_ih, self.bias)

    def kernel_config(self, masked=False, bidirectional=False, batch=0) -> kernels.KernelConfig:
        """The configuration the kernels are chosen for (`batch` matters to the plain LSTM only)."""
        config = kernels.KernelConfig(bidirectional=bidirectional, bias=self.use_bias, masked=masked,
                                      dtype=self.weight_ih.dtype, cell=self.cell)
        return ops.captured(config)

    def forward(self, x, mask=None, initial_state=None):
        """x (B, T, I), mask (B, T) or None, initial_state [h (B, H)] or None.

        Returns:
            (B, H), (B, T, H) with return_sequences; with return_state, [output, h (B, H)].
        """
        xt, mask_t = self.prepare(x, mask)
        h0 = self._initial_h(xt, initial_state)
        config = self.kernel_config(mask_t is not None)
        kernel, _ = kernels.select(config, xt.device, self.engine)
        y, h = mixed.run(kernel, xt, h0, [self.layer_weights()], config, self.training, mask=mask_t)
        if self.stateful:
            self.states = h.detach()
        out = y.transpose(0, 1) if self.return_sequences else h[0]  # (B, T, H) or (B, H)
        return [out, h[0]] if self.return_state else out

    def _initial_h(self, xt, initial_state):
        B = xt.shape[1]
        if initial_state is not None:
            return initial_state[0][None]  # (1, B, H)
        if self.stateful and self.states is not None:
            if self.states.shape[1] != B:
                raise LstmkitError(f"{self.name or self.cell}: stateful layer got a batch of {B} after "
                                   f"batches of {self.states.shape[1]}; use a batch_size that divides the "
                                   "data, or call reset_states()")
            return self.states
        return xt.new_zeros(1, B, self.units)

    def compute_output_shape(self, input_shape):
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        return [out, (B, self.units)] if self.return_state else out

    def get_config(self):
        return {"name": self.name, **({"input_shape": list(self.input_shape)} if self.input_shape else {}),
                "units": self.units, "use_bias": self.use_bias,
                "kernel_initializer": initializers_.serialize(self.kernel_initializer),
                "bias_initializer": initializers_.serialize(self.bias_initializer), "dropout": self.dropout,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "engine": self.engine}


class MinLSTM(_MinRNNLayer):
    """minLSTM layer, Keras-style; inputs are batch-first (B, T, I).

    Args:
        units: H. use_bias, kernel_initializer, bias_initializer, dropout (input dropout, one mask per
        sequence), return_sequences, return_state, go_backwards, stateful, input_shape, name: as for
        `LSTM`. engine: 'auto' (the compiled scan where built, else the log-space scan), 'compiled',
        'fused' (the log-space scan) or 'reference' (sequential; keyword-only).

    Example:
        >>> import torch
        >>> from lstmkit.layers import MinLSTM
        >>> MinLSTM(8, return_sequences=True)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """
    cell = "minlstm"


class MinGRU(_MinRNNLayer):
    """minGRU layer, Keras-style; the arguments are MinLSTM's.

    Example:
        >>> import torch
        >>> from lstmkit.layers import MinGRU
        >>> MinGRU(8)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 8])
    """
    cell = "mingru"
