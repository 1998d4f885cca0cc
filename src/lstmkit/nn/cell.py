"""`lstmkit.nn.LSTMCell`: a drop-in for torch.nn.LSTMCell running `cells.lstm.step`."""
import math

import torch
from torch import nn

from ..cells import LayerWeights, lstm
from ..errors import LstmkitError
from .checks import check_hx, check_input, check_lstm_args


class LSTMCell(nn.Module):
    """One LSTM step with torch.nn.LSTMCell's constructor, parameters, inputs and outputs.

    Args:
        input_size: I; hidden_size: H; bias: learn b_ih and b_hh (default True); device, dtype.

    Inputs: input (B, I) or (I,); optionally (h0, c0), each (B, H) or (H,).
    Outputs: (h_1, c_1).

    Example:
        >>> import torch, lstmkit
        >>> cell = lstmkit.nn.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> tuple(h.shape)
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        check_lstm_args([("input_size", input_size), ("hidden_size", hidden_size)])
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def forward(self, input, hx=None):
        x, unbatched, w = cell_input(self, input)
        if hx is None:
            h, c = lstm.init_state(x.shape[0], w, x)
        else:
            shape = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
            h, c = check_hx(hx[0], shape, x, "h0"), check_hx(hx[1], shape, x, "c0")
            if unbatched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        h, (_, c) = lstm.step(lstm.input_projection(x[None], w)[0], (h, c), w)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


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
