"""`lstmkit.nn.LSTMCell`: a drop-in for torch.nn.LSTMCell running `cells.lstm.step`."""
import math

import torch
from torch import nn

from . import variants
from ..cells import LayerWeights, lstm, lstm_variant, zoneout
from ..cells.lstm_variant import VariantSpec, VariantWeights
from ..errors import LstmkitError
from .checks import check_hx, check_input, check_lstm_args


_VARIANT_START = {"peephole": 0.0, "ln_ih": 1.0, "ln_hh": 1.0, "ln_c_weight": 1.0, "ln_c_bias": 0.0}


class LSTMCell(nn.Module):
    """One LSTM step with torch.nn.LSTMCell's constructor, parameters, inputs and outputs.

    Args:
        input_size: I; hidden_size: H; bias: learn b_ih and b_hh (default True); device, dtype.
        peephole, cifg, layer_norm, zoneout, activation, recurrent_activation: the LSTM variants,
            keyword-only, with `lstmkit.nn.LSTM`'s names and meaning (`lstmkit.nn.variants`; the
            equations in `cells/lstm_variant.py`). The parameters they add carry nn.LSTM's names
            without the `_l0` suffix (`peephole`, `ln_ih`, ...), as torch's cell does for `weight_ih`.
            Zoneout draws its masks per call in training and uses z at inference.

    Inputs: input (B, I) or (I,); optionally (h0, c0), each (B, H) or (H,).
    Outputs: (h_1, c_1).

    Example:
        >>> import torch, lstmkit
        >>> cell = lstmkit.nn.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> tuple(h.shape)
        (3, 20)
        >>> h, c = lstmkit.nn.LSTMCell(10, 20, peephole=True, layer_norm=True)(torch.randn(3, 10), (h, c))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, *, peephole=False,
                 cifg=False, layer_norm=False, zoneout=0.0, activation="tanh", recurrent_activation="sigmoid"):
        super().__init__()
        check_lstm_args([("input_size", input_size), ("hidden_size", hidden_size)])
        self.spec = variants.parse(peephole, cifg, layer_norm, zoneout, activation, recurrent_activation)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        G = len(self.spec.gates)
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(G * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self._extra = tuple(variants.extra_shapes(self.spec, hidden_size).items())
        for name, shape in self._extra:
            self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's init, every weight uniform in ±1/sqrt(H); a variant's peepholes start at 0 and its
        layer-norm gains at 1, shifts at 0, as in nn.LSTM (the GRU and RNN modules share this method)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)
            for name, value in _VARIANT_START.items():
                if name in self._parameters:
                    self._parameters[name].fill_(value)

    def _variant_weights(self) -> VariantWeights:
        return VariantWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                              **{name: getattr(self, name) for name, _ in self._extra})

    def forward(self, input, hx=None):
        x, unbatched, w = cell_input(self, input)
        if hx is None:
            h = c = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            shape = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
            h, c = check_hx(hx[0], shape, x, "h0"), check_hx(hx[1], shape, x, "c0")
            if unbatched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        if self.spec == VariantSpec():
            h, (_, c) = lstm.step(lstm.input_projection(x[None], w)[0], (h, c), w)
        else:
            h, c = self._variant_step(x, h, c)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def _variant_step(self, x, h, c):
        """One step of `cells.lstm_variant`, zoneout masks drawn for this step (c's first, as nn.LSTM)."""
        w = self._variant_weights()
        d = [zoneout.masks(z, (1, *h.shape), self.training, x)
             for z in (self.spec.zoneout_c, self.spec.zoneout_h)]
        d_c, d_h = (m[0] if isinstance(m, torch.Tensor) else m for m in d)
        h, (_, c) = lstm_variant.step(lstm_variant.input_projection(x[None], w, self.spec)[0], (h, c), w,
                                      self.spec, d_c, d_h)
        return h, c

    def extra_repr(self):
        options = ", ".join(self.spec.names())
        return (f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
                + (f", {options}" if options else ""))


def cell_input(cell, input):
    """(x (B, I), whether `input` was unbatched, the cell's LayerWeights) for a cell's forward;
    input (B, I) or (I,), checked against the cell's input size and weights' dtype and device."""
    if not isinstance(input, torch.Tensor) or input.dim() not in (1, 2):
        shape = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
        raise LstmkitError(f"input: expected shape (B, {cell.input_size}) or ({cell.input_size},), got {shape}")
    check_input(input, cell.input_size, cell.weight_ih, "input")
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input  # (B, I)
    return x, unbatched, LayerWeights(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
