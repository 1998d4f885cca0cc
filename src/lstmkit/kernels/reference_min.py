"""The oracle for minLSTM and minGRU: the sequential form, a plain loop over `cells.min_rnn.step`.

Kernels for these cells take hx = h0 (L*D, B, H) and return (y (T, B, D*H), h_n (L*D, B, H)); otherwise
the contract of `lstmkit.kernels` holds (masked steps keep the state and output zeros).
"""
import torch
import torch.nn.functional as F

from ..cells import min_rnn
from .stack import lengths_to_mask

name = "reference"


def unsupported(config, device):
    """The sequential form runs every minLSTM / minGRU configuration."""
    return min_unsupported(config)


def min_unsupported(config):
    """What no minimal-RNN kernel runs (shared by the scan)."""
    if config.recurrent_dropout > 0:
        return f"{config.cell} has no recurrent weights for recurrent dropout to act on"
    if config.proj_size:
        return f"{config.cell} has no projection (proj_size)"
    return None


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See the module docstring."""
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_min_stack(layer, x, hx, weights, config, training, mask)


def run_min_stack(layer_fn, x, h0, weights, config, training, mask):
    """Apply `layer_fn(x, h0, w, reverse, mask) -> (y, h_n)` to every layer and direction."""
    directions = 2 if config.bidirectional else 1
    h_n = []
    for layer_index in range(config.num_layers):
        outs = []
        for d in range(directions):
            k = layer_index * directions + d
            y, h = layer_fn(x, h0[k], weights[k], d == 1, mask)
            outs.append(y)
            h_n.append(h)
        x = outs[0] if directions == 1 else torch.cat(outs, dim=2)  # (T, B, D*H)
        if training and config.dropout > 0 and layer_index < config.num_layers - 1:
            x = F.dropout(x, config.dropout, training=True)
    return x, torch.stack(h_n)


def layer(x, h0, w, reverse, mask):
    """One layer and direction, step by step: (T, B, I) -> (T, B, H), h_n (B, H)."""
    a, b = min_rnn.coefficients(x, w)
    a, b = a.unbind(0), b.unbind(0)
    h, ys = h0, [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        h_new = min_rnn.step(a[t], b[t], h)
        if mask is None:
            h = ys[t] = h_new
        else:
            m = mask[t][:, None]  # (B, 1)
            h, ys[t] = h_new.where(m, h), h_new * m
    return torch.stack(ys), h
