"""The oracle: a plain time loop over `cells.lstm.step`, differentiated by autograd."""
import torch

from ..cells import lstm
from . import reference_rnn
from .stack import lengths_to_mask, run_stack

name = "reference"


def unsupported(config, device):
    """The reference runs every configuration, but is not exported to ONNX."""
    if config.capture == "onnx":
        return "the reference loop would be exported unrolled for the example's length only"
    return None


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract."""
    if config.cell != "lstm":
        return reference_rnn.run(x, hx, weights, config, training, mask, lengths)
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_stack(layer, x, hx, weights, config, training, mask)


def layer(x, h0, c0, w, reverse, mask, hmask):
    """One layer and direction: (T, B, I) -> (T, B, P), h_n (B, P), c_n (B, H)."""
    xw = lstm.input_projection(x, w).unbind(0)  # T x (B, 4H): one backward node, not T indexings
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    h, c = h0, c0
    ys = [None] * x.shape[0]
    for t in steps:
        h_in = h if hmask is None else h * hmask
        h_new, (_, c_new) = lstm.step(xw[t], (h_in, c), w)
        if mask is None:
            h, c, ys[t] = h_new, c_new, h_new
        else:
            m = mask[t][:, None]  # (B, 1)
            h, c = torch.where(m, h_new, h), torch.where(m, c_new, c)
            ys[t] = h_new * m
    return torch.stack(ys), h, c
