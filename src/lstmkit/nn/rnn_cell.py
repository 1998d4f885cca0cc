"""`lstmkit.nn.RNNCell` and `lstmkit.nn.GRUCell`: drop-ins for torch's, running `cells.rnn` / `cells.gru` step."""
import torch
from torch import nn

from ..cells import gru, rnn
from ..errors import LstmkitError
from .cell import LSTMCell, cell_input
from .checks import check_hx


class _SingleStateCell(nn.Module):
    """One step of a single-state cell: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,)."""
    gates = 1

    def __init__(self, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise LstmkitError(f"{arg}: expected a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory, GH = {"device": device, "dtype": dtype}, self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(GH, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(GH, hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(GH, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(GH, **factory)) if bias else None
        self.reset_parameters()

    reset_parameters = LSTMCell.reset_parameters  # torch's: every weight uniform in ±1/sqrt(H)

    def forward(self, input, hx=None):
        """input (B, I) or (I,), hx (B, H) or (H,) or None -> h_1 shaped like hx."""
        x, unbatched, w = cell_input(self, input)
        if hx is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            shape = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
            h = check_hx(hx, shape, x, "hx").reshape(x.shape[0], self.hidden_size)
        h = self._step(x, h, w)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_SingleStateCell):
    """One simple-RNN step with torch.nn.RNNCell's constructor, parameters, inputs and outputs.

    Args:
        input_size: I; hidden_size: H; bias: learn b_ih and b_hh (default True);
        nonlinearity: 'tanh' (default) or 'relu'; device, dtype.

    Example:
        >>> import torch, lstmkit
        >>> tuple(lstmkit.nn.RNNCell(10, 20)(torch.randn(3, 10)).shape)
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in rnn.NONLINEARITIES:
            raise LstmkitError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _step(self, x, h, w):
        return rnn.step(rnn.input_projection(x[None], w)[0], h, w, self.nonlinearity)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")


class GRUCell(_SingleStateCell):
    """One GRU step with torch.nn.GRUCell's constructor, parameters (gates r, z, n), inputs and outputs.

    Args:
        input_size: I; hidden_size: H; bias: learn b_ih and b_hh (default True); device, dtype.
        reset_after: False computes Keras' reset-before form (keyword-only; see `cells.gru`).

    Example:
        >>> import torch, lstmkit
        >>> tuple(lstmkit.nn.GRUCell(10, 20)(torch.randn(3, 10)).shape)
        (3, 20)
    """
    gates = 3

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, *, reset_after=True):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _step(self, x, h, w):
        return gru.step(gru.input_projection(x[None], w, self.reset_after)[0], h, w, self.reset_after)
