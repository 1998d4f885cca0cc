r"""Layer normalisation inside the LSTM (Ba et al. 2016; the form of haste's LayerNormLSTM).

Each of the two gate projections is normalised over its whole (G·H) vector before the bias, and the
cell state is normalised before the output squashing:

    LN(a; γ, β) = γ ⊙ (a - μ(a)) / sqrt(σ²(a) + ε) + β          over the last axis, ε = 1e-5
    z_t = LN(W_ih x_t; γ_x) + LN(W_hh h_{t-1}; γ_h) + b         (no β on the projections: b is it)
    h̃_t = o_t ⊙ φ(LN(c̃_t; γ_c, β_c))                           c itself is carried un-normalised
"""
import torch
import torch.nn.functional as F

EPS = 1e-5


def norm(a: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor | None = None) -> torch.Tensor:
    """LN(a; γ, β) over the last axis: (..., N) -> (..., N)."""
    return F.layer_norm(a, a.shape[-1:], gamma, beta, EPS)
