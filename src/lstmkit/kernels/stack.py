"""Runs a stack of layers and directions with a per-layer function; shared by fused and reference."""
import functools

import torch
import torch.nn.functional as F

from ..errors import LstmkitError


def run_stack(layer_fn, x, hx, weights, config, training, mask=None):
    """Apply `layer_fn` to every layer and direction, as torch.nn.LSTM stacks them.

    Args:
        layer_fn: (x, h0, c0, w, reverse, mask, hmask) -> (y (T, B, P), h_n, c_n).
        x: (T, B, I); hx: (h0 (L*D, B, P), c0 (L*D, B, H)); weights: list of LayerWeights.
        config: kernels.KernelConfig; training: whether dropout is active; mask: (T, B) bool or None.

    Returns:
        (y (T, B, D*P), (h_n (L*D, B, P), c_n (L*D, B, H))).
    """
    h0, c0 = hx
    directions = 2 if config.bidirectional else 1
    h_n, c_n = [], []
    for layer in range(config.num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            hmask = _recurrent_mask(h0[k], config.recurrent_dropout) if training else None
            y, h, c = layer_fn(x, h0[k], c0[k], weights[k], d == 1, mask, hmask)
            outs.append(y)
            h_n.append(h)
            c_n.append(c)
        x = outs[0] if directions == 1 else torch.cat(outs, dim=2)  # (T, B, D*P)
        if training and config.dropout > 0 and layer < config.num_layers - 1:
            x = F.dropout(x, config.dropout, training=True)
    return x, (torch.stack(h_n), torch.stack(c_n))


def _recurrent_mask(h0, p):
    """Variational dropout on h: one (B, P) mask per sequence, scaled by 1/(1-p); None when p == 0."""
    if p <= 0:
        return None
    return torch.empty_like(h0).bernoulli_(1 - p).div_(1 - p)


def lengths_to_mask(lengths, steps, device):
    """(B,) lengths -> (T, B) bool mask of the valid, right-padded steps."""
    return torch.arange(steps, device=device)[:, None] < lengths.to(device)[None, :]


def first_order(backward):
    """`torch.autograd.function.once_differentiable` that refuses create_graph=True: there torch would
    return the gradient as a constant (no graph), so a loss built on it (a gradient penalty) would
    silently get no second-order term. Grad mode is on in a backward exactly when create_graph is."""
    inner = torch.autograd.function.once_differentiable(backward)

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        if torch.is_grad_enabled():
            raise LstmkitError("create_graph: the compiled kernel's backward is first order only; for "
                               "higher-order gradients give engine='native' or 'reference'")
        return inner(ctx, *grads)
    return wrapper
