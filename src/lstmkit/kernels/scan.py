"""minLSTM and minGRU over all steps at once: the log-space parallel scan of `cells/min_rnn.py`.

    a*_t = cumsum(log a)_t,   h_t = e^{a*_t} h_0 + exp(a*_t + logcumsumexp(log b - a*)_t)

cumsum and logcumsumexp are parallel scans in torch, differentiated by autograd (their backward is
again a scan), so training has no loop over time. h_0 enters linearly, so it may have any sign.
Masked steps get a = 1 and b = 0: they keep the state, and output zeros.
"""
import torch

from ..cells import min_rnn
from .reference_min import min_unsupported, run_min_stack
from .stack import lengths_to_mask

name = "fused"


def unsupported(config, device):
    """The scan runs every minLSTM / minGRU configuration in floating point."""
    if not config.dtype.is_floating_point:
        return f"dtype {config.dtype} is not a floating-point type"
    return min_unsupported(config)


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `kernels/reference_min.py` for the contract."""
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_min_stack(layer, x, hx, weights, config, training, mask)


def layer(x, h0, w, reverse, mask):
    """One layer and direction as a scan: (T, B, I) -> (T, B, H), h_n (B, H)."""
    log_a, log_b = min_rnn.log_coefficients(x, w)  # (T, B, H) each
    m = None if mask is None else mask[:, :, None]  # (T, B, 1)
    if reverse:
        log_a, log_b, m = log_a.flip(0), log_b.flip(0), (None if m is None else m.flip(0))
    if m is not None:
        log_a = log_a.where(m, 0.0)
    a_star = log_a.cumsum(0)
    v = log_b - a_star
    if m is not None:
        # the most negative finite value, not -inf: a prefix of only masked steps stays differentiable
        v = v.where(m, torch.finfo(v.dtype).min)
    h = torch.exp(a_star) * h0 + torch.exp(a_star + torch.logcumsumexp(v, 0))  # (T, B, H)
    y = h if m is None else h * m
    return (y.flip(0) if reverse else y), h[-1]
