"""The oracle for the GRU and the simple RNN: a plain time loop over `cells.gru` / `cells.rnn`, autograd."""
import torch

from ..cells import gru, rnn
from .single_state import run_h_stack


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract (single-state cells: hx is h0, returns (y, h_n))."""
    if config.cell == "gru":
        def layer(x, h0, w, reverse, mask, hmask):
            return _loop(gru.input_projection(x, w, config.reset_after),
                         lambda xw, h: gru.step(xw, h, w, config.reset_after, hmask), h0, reverse, mask)
    else:
        nonlinearity = config.cell.removeprefix("rnn_")

        def layer(x, h0, w, reverse, mask, hmask):
            return _loop(rnn.input_projection(x, w), lambda xw, h: rnn.step(xw, h, w, nonlinearity, hmask),
                         h0, reverse, mask)
    return run_h_stack(layer, x, hx, weights, config, training, mask, lengths)


def _loop(xw, step, h, reverse, mask):
    """Step through time: masked steps keep h and output zeros. xw (T, B, G) -> (y (T, B, H), h_n)."""
    xw = xw.unbind(0)  # one backward node, not T indexings
    T = len(xw)
    ys = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h_new = step(xw[t], h)
        if mask is None:
            h = ys[t] = h_new
        else:
            m = mask[t][:, None]  # (B, 1)
            h, ys[t] = torch.where(m, h_new, h), h_new * m
    return torch.stack(ys), h
