"""`lstmkit.nn.RNN` and `lstmkit.nn.GRU`: drop-ins for torch.nn.RNN and torch.nn.GRU (same arguments,
parameters, inputs and outputs) that run on lstmkit's kernels."""
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .. import kernels
from ..kernels import ops
from ..kernels import mixed
from ..cells import LayerWeights
from ..errors import LstmkitError
from .cell import LSTMCell
from .checks import check_hx, check_input
from .lstm import LSTM, _check_args, _repack


class _SingleStateStack(nn.Module):
    """The stack shared by RNN and GRU: parameters in torch's names, one state h, one kernel call.

    Parameters per layer k and direction: weight_ih_l{k} (G*H, I or D*H), weight_hh_l{k} (G*H, H),
    bias_ih_l{k}, bias_hh_l{k} (G*H,), with the suffix `_reverse` for the second direction; G = 3 for
    the GRU (gates r, z, n), 1 for the simple RNN.
    """
    gates = 1

    def __init__(self, cell, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                 device, dtype, engine, recurrent_dropout):
        super().__init__()
        _check_args(input_size, hidden_size, num_layers, dropout, 0, engine, recurrent_dropout, "torch")
        self.cell = cell
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.engine, self.recurrent_dropout = bidirectional, engine, float(recurrent_dropout)
        factory = {"device": device, "dtype": dtype}
        D, GH = (2 if bidirectional else 1), self.gates * hidden_size
        self._names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:D]:
                shapes = {"weight_ih": (GH, input_size if layer == 0 else D * hidden_size),
                          "weight_hh": (GH, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(GH,), bias_hh=(GH,))
                names = {k: f"{k}_l{layer}{suffix}" for k in shapes}
                for k, shape in shapes.items():
                    self.register_parameter(names[k], nn.Parameter(torch.empty(shape, **factory)))
                self._names.append(names)
        self.reset_parameters()

    reset_parameters = LSTMCell.reset_parameters  # torch's: every weight uniform in ±1/sqrt(H)

    def layer_weights(self) -> list[LayerWeights]:
        """One LayerWeights per layer and direction, in torch's order."""
        return [LayerWeights(**{k: getattr(self, n) for k, n in names.items()}) for names in self._names]

    def kernel_config(self, masked=False, packed=False) -> kernels.KernelConfig:
        """The configuration the kernels are chosen for and run with (dropouts only while training)."""
        p, rp = (self.dropout, self.recurrent_dropout) if self.training else (0.0, 0.0)
        return ops.captured(kernels.KernelConfig(self.num_layers, self.bidirectional, 0, self.bias, p, rp, masked,
                                                 self.weight_ih_l0.dtype, packed, self.training, cell=self.cell,
                                                 reset_after=getattr(self, "reset_after", True),
                                                 hidden_size=self.hidden_size))

    def select_kernel(self, masked=False, packed=False):
        """(kernel, reason) for the current parameters and mode; see `kernels.select`."""
        return kernels.select(self.kernel_config(masked, packed), self.weight_ih_l0.device, self.engine)

    def forward(self, input, hx=None, *, mask=None):
        """Run the stack; see the class docstring. `mask` (B, T) or (T, B) like the input, bool: False
        steps change no state and output zeros (keyword-only, not in torch's module)."""
        packed = isinstance(input, PackedSequence)
        x, lengths, unbatched = self._to_time_major(input)
        check_input(x, self.input_size, self.weight_ih_l0, "input")
        if mask is not None:
            mask = self._mask_time_major(mask, x, unbatched)
        h0 = self._initial_state(hx, x, unbatched)
        config = self.kernel_config(mask is not None, lengths is not None)
        kernel, _ = kernels.select(config, self.weight_ih_l0.device, self.engine)
        y, h = mixed.run(kernel, x, h0, self.layer_weights(), config, self.training, mask=mask, lengths=lengths)
        if packed:
            return _repack(y, lengths, input), h
        if unbatched:
            return y.squeeze(1), h.squeeze(1)
        return (y.transpose(0, 1) if self.batch_first else y), h

    # The input and mask handling is nn.LSTM's, which reads only batch_first and input_size.
    _to_time_major = LSTM._to_time_major
    _mask_time_major = LSTM._mask_time_major

    def _initial_state(self, hx, x, unbatched):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            return x.new_zeros(layers, x.shape[1], self.hidden_size)
        if unbatched:
            return check_hx(hx, (layers, self.hidden_size), x, "hx").unsqueeze(1)
        return check_hx(hx, (layers, x.shape[1], self.hidden_size), x, "hx")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in self._repr_defaults():
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)!r}"
        return s

    def _repr_defaults(self):
        return (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                ("bidirectional", False), ("engine", "auto"), ("recurrent_dropout", 0.0))


class RNN(_SingleStateStack):
    """Multi-layer simple (Elman) RNN with torch.nn.RNN's constructor, parameter names, forward and outputs.

    h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), φ = tanh or relu (`cells.rnn`).

    Args:
        input_size: I; hidden_size: H; num_layers: stacked layers (default 1).
        nonlinearity: 'tanh' (default) or 'relu'.
        bias, batch_first, dropout, bidirectional, device, dtype: as in torch.nn.RNN.
        engine: "auto", "native", "fused", "compiled" or "reference" (keyword-only).
        recurrent_dropout: variational dropout on h during training, one mask per sequence (keyword-only).

    Inputs: input (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence;
        optionally hx (D*num_layers, B, H), or (D*num_layers, H) unbatched.
    Outputs: output (T, B, D*H) (or packed), h_n shaped like hx.

    Example:
        >>> import torch, lstmkit
        >>> rnn = lstmkit.nn.RNN(10, 20, num_layers=2, nonlinearity="relu")
        >>> y, h = rnn(torch.randn(5, 3, 10))
        >>> tuple(y.shape), tuple(h.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, *,
                 engine="auto", recurrent_dropout=0.0):
        if nonlinearity not in ("tanh", "relu"):
            raise LstmkitError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype, engine, recurrent_dropout)

    def _repr_defaults(self):
        return (("nonlinearity", "tanh"), *super()._repr_defaults())


class GRU(_SingleStateStack):
    """Multi-layer GRU with torch.nn.GRU's constructor, parameter names (gates r, z, n), forward and outputs.

    The equations are in `cells.gru`; torch's form is Keras' reset_after=True.

    Args:
        input_size: I; hidden_size: H; num_layers: stacked layers (default 1).
        bias, batch_first, dropout, bidirectional, device, dtype: as in torch.nn.GRU.
        engine: "auto", "native", "fused", "compiled" or "reference" (keyword-only).
        recurrent_dropout: variational dropout on h during training, one mask per sequence (keyword-only).
        reset_after: False computes Keras' reset-before form, W_hn (r ⊙ h), which torch's op does not
            have; it runs on the fused kernel (keyword-only).

    Inputs and outputs: as `lstmkit.nn.RNN`.

    Example:
        >>> import torch, lstmkit
        >>> gru = lstmkit.nn.GRU(10, 20, batch_first=True, bidirectional=True)
        >>> y, h = gru(torch.randn(3, 5, 10))
        >>> tuple(y.shape), tuple(h.shape)
        ((3, 5, 40), (2, 3, 20))
    """
    gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, engine="auto", recurrent_dropout=0.0,
                 reset_after=True):
        self.reset_after = bool(reset_after)
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, engine, recurrent_dropout)

    def _repr_defaults(self):
        return (*super()._repr_defaults(), ("reset_after", True))
