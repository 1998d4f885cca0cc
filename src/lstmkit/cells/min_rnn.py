r"""minLSTM and minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): gates that see x_t only.

Symbols: x_t input (B, I); h_t state (B, H); σ the sigmoid; g(v) = v + 1/2 for v ≥ 0, σ(v) otherwise
(positive and continuous, so h̃ > 0 and its logarithm exists). Blocks of weight_ih (k·H, I), in order:

    minGRU  (z, h):     z_t = σ(W_z x_t + b_z),  h̃_t = g(W_h x_t + b_h)
                        h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    minLSTM (f, i, h):  f_t = σ(W_f x_t + b_f),  i_t = σ(W_i x_t + b_i),  h̃_t = g(W_h x_t + b_h)
                        f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
                        h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t

Both are h_t = a_t ⊙ h_{t-1} + b_t with a_t, b_t independent of h, so all steps follow at once:

    a*_t = Σ_{k≤t} log a_k,   h_t = e^{a*_t} h_0 + exp(a*_t + logcumsumexp_{k≤t}(log b_k - a*_k))

computed from logarithms that never leave log space (numerically stable; `kernels/scan.py`):
    minGRU:  log a = -softplus(k_z),  log b = -softplus(-k_z) + log g(k_h)
    minLSTM: d = softplus(-k_f) - softplus(-k_i),  log a = -softplus(d),  log b = -softplus(-d) + log g(k_h)
    log g(v) = log(v + 1/2) for v ≥ 0, -softplus(-v) otherwise.
`step` below is the sequential form: the oracle the scan is tested against.

Example:
    >>> import torch
    >>> from lstmkit.cells.min_rnn import MinWeights, coefficients, step
    >>> w = MinWeights("minlstm", torch.randn(12, 3), torch.zeros(12))
    >>> a, b = coefficients(torch.randn(5, 2, 3), w)  # (T, B, H) each
    >>> tuple(step(a[0], b[0], torch.zeros(2, 4)).shape)
    (2, 4)
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BLOCKS = {"mingru": ("z", "h"), "minlstm": ("f", "i", "h")}


@dataclass(frozen=True)
class MinWeights:
    """One layer and direction: the cell ('minlstm' or 'mingru'), weight_ih (k·H, I), bias_ih (k·H,)."""
    cell: str
    weight_ih: torch.Tensor
    bias_ih: torch.Tensor | None = None

    @property
    def hidden_size(self) -> int:
        return self.weight_ih.shape[0] // len(BLOCKS[self.cell])


def g(v: torch.Tensor) -> torch.Tensor:
    """v + 1/2 for v ≥ 0, σ(v) otherwise."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v), without forming g(v) where it underflows."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def projections(x: torch.Tensor, w: MinWeights) -> dict:
    """W x_t + b for all steps, per block: (T, B, I) -> {'f': (T, B, H), ...}."""
    k = F.linear(x, w.weight_ih, w.bias_ih)  # (T, B, k·H)
    return dict(zip(BLOCKS[w.cell], k.chunk(len(BLOCKS[w.cell]), dim=-1)))


def log_coefficients(x: torch.Tensor, w: MinWeights):
    """(log a, log b) of all steps, each (T, B, H), in log space as in the module docstring."""
    k = projections(x, w)
    if w.cell == "mingru":
        return -F.softplus(k["z"]), -F.softplus(-k["z"]) + log_g(k["h"])
    d = F.softplus(-k["f"]) - F.softplus(-k["i"])
    return -F.softplus(d), -F.softplus(-d) + log_g(k["h"])


def coefficients(x: torch.Tensor, w: MinWeights):
    """(a, b) of all steps, each (T, B, H), in ordinary space, straight from the equations."""
    k = projections(x, w)
    if w.cell == "mingru":
        z = torch.sigmoid(k["z"])
        return 1 - z, z * g(k["h"])
    f, i = torch.sigmoid(k["f"]), torch.sigmoid(k["i"])
    return f / (f + i), i / (f + i) * g(k["h"])


def step(a_t: torch.Tensor, b_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One sequential step h_t = a_t ⊙ h_{t-1} + b_t, all (B, H)."""
    return a_t * h + b_t
