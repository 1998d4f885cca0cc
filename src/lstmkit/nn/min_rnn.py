"""`lstmkit.nn.MinLSTM` and `lstmkit.nn.MinGRU` (Feng et al. 2024), torch-style, trained as a scan.

They take torch.nn.GRU's arguments and return what it returns (output, h_n): these cells have one
state h and no recurrent weights. Parameters per layer and direction: `weight_ih_l{k}` (k·H, I) with
the blocks of `cells/min_rnn.py` ((f, i, h) or (z, h)) and `bias_ih_l{k}` (k·H,).
"""
import math

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .. import kernels
from ..kernels import mixed, ops
from ..cells import min_rnn
from .checks import check_hx, check_input
from .lstm import LSTM, _check_args, _repack


class _MinRNN(nn.Module):
    cell = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, engine="auto"):
        super().__init__()
        _check_args(input_size, hidden_size, num_layers, dropout, 0, engine, 0.0, "torch")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.engine = bidirectional, engine
        k, D = len(min_rnn.BLOCKS[self.cell]), 2 if bidirectional else 1
        self._names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:D]:
                fan_in = input_size if layer == 0 else hidden_size * D
                names = {"weight_ih": f"weight_ih_l{layer}{suffix}"}
                self.register_parameter(names["weight_ih"], nn.Parameter(
                    torch.empty(k * hidden_size, fan_in, device=device, dtype=dtype)))
                if bias:
                    names["bias_ih"] = f"bias_ih_l{layer}{suffix}"
                    self.register_parameter(names["bias_ih"], nn.Parameter(
                        torch.empty(k * hidden_size, device=device, dtype=dtype)))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform ±1/sqrt(H), as torch initialises its recurrent layers."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def layer_weights(self) -> list[min_rnn.MinWeights]:
        return [min_rnn.MinWeights(self.cell, **{k: getattr(self, n) for k, n in names.items()})
                for names in self._names]

    def kernel_config(self, masked=False, packed=False) -> kernels.KernelConfig:
        config = kernels.KernelConfig(self.num_layers, self.bidirectional, 0, self.bias,
                                      self.dropout if self.training else 0.0, 0.0, masked,
                                      self.weight_ih_l0.dtype, packed, self.training, cell=self.cell)
        return ops.captured(config)

    def select_kernel(self, masked=False, packed=False):
        """(kernel, reason): the compiled scan ('compiled'), the log-space scan ('fused') or the sequential
        form ('reference')."""
        return kernels.select(self.kernel_config(masked, packed), self.weight_ih_l0.device, self.engine)

    # Input handling is torch.nn.LSTM's (same layouts, masks and packed sequences).
    _to_time_major = LSTM._to_time_major
    _mask_time_major = LSTM._mask_time_major

    def forward(self, input, hx=None, *, mask=None):
        """input (T, B, I), (B, T, I) with batch_first, (T, I) or a PackedSequence; hx h0 (L*D, B, H).
        `mask` (keyword-only) as in `lstmkit.nn.LSTM`. Returns (output (T, B, D*H), h_n (L*D, B, H))."""
        packed = isinstance(input, PackedSequence)
        x, lengths, unbatched = self._to_time_major(input)
        check_input(x, self.input_size, self.weight_ih_l0, "input")
        if mask is not None:
            mask = self._mask_time_major(mask, x, unbatched)
        layers = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            h0 = x.new_zeros(layers, x.shape[1], self.hidden_size)
        elif unbatched:
            h0 = check_hx(hx, (layers, self.hidden_size), x, "h0").unsqueeze(1)
        else:
            h0 = check_hx(hx, (layers, x.shape[1], self.hidden_size), x, "h0")
        config = self.kernel_config(mask is not None, lengths is not None)
        kernel, _ = kernels.select(config, self.weight_ih_l0.device, self.engine)
        y, h = mixed.run(kernel, x, h0, self.layer_weights(), config, self.training, mask=mask, lengths=lengths)
        if packed:
            return _repack(y, lengths, input), h
        if unbatched:
            return y.squeeze(1), h.squeeze(1)
        return (y.transpose(0, 1) if self.batch_first else y), h

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                           ("bidirectional", False), ("engine", "auto")):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)!r}"
        return s


class MinLSTM(_MinRNN):
    """minLSTM layers with torch.nn.GRU's arguments, inputs and outputs (see the module docstring).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype:
            as torch.nn.GRU.
        engine: "auto" (the compiled scan where the library is built, else the log-space scan),
            "compiled", "fused" (the log-space scan) or "reference" (the sequential form).

    Example:
        >>> import torch, lstmkit
        >>> y, h = lstmkit.nn.MinLSTM(10, 20)(torch.randn(7, 3, 10))
        >>> tuple(y.shape), tuple(h.shape)
        ((7, 3, 20), (1, 3, 20))
    """
    cell = "minlstm"


class MinGRU(_MinRNN):
    """minGRU layers; see MinLSTM for the arguments.

    Example:
        >>> import torch, lstmkit
        >>> y, h = lstmkit.nn.MinGRU(10, 20, batch_first=True)(torch.randn(3, 7, 10))
        >>> tuple(y.shape)
        (3, 7, 20)
    """
    cell = "mingru"
