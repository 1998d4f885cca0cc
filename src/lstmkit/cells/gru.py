r"""The gated recurrent unit (Cho et al. 2014) in torch's form and in Keras' two forms.

Symbols: x_t input (B, I); h_{t-1} hidden state (B, H); σ the logistic sigmoid; ⊙ the elementwise
product. Gates are stacked (r, z, n), as in torch (Keras stacks (z, r, h); see `gates.py`).

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)            reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)            update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))  candidate (reset after the product)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}                    hidden state

That is torch.nn.GRU and Keras' `reset_after=True` (its default). Keras' `reset_after=False` resets
h before the product, and b_hn then simply adds to b_in:

    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)

With variational recurrent dropout (one mask m per sequence) every product with W_h· uses
h_{t-1} ⊙ m; the last line keeps the undropped h_{t-1}, as Keras does.
The input terms are computed for all steps at once (`input_projection`); `step` does the rest.
"""
import torch

from .lstm import LayerWeights

__all__ = ["init_state", "input_projection", "step"]


def init_state(batch: int, w: LayerWeights, like: torch.Tensor) -> torch.Tensor:
    """Zero h of shape (B, H) on like's device and dtype."""
    return like.new_zeros(batch, w.weight_hh.shape[1])


def input_projection(x: torch.Tensor, w: LayerWeights, reset_after: bool = True) -> torch.Tensor:
    """W_ih x_t + b_ih for every step, plus the recurrent biases that sit outside the reset gate:
    b_hr, b_hz (and b_hn when reset_after is False). (T, B, I) -> (T, B, 3H)."""
    xw = torch.matmul(x, w.weight_ih.t())  # (T, B, 3H)
    if w.bias_ih is None:
        return xw
    b_hh = w.bias_hh
    if reset_after:
        H = w.weight_hh.shape[1]
        b_hh = torch.cat([b_hh[:2 * H], b_hh.new_zeros(H)])  # b_hn stays inside r_t ⊙ (...)
    return xw + w.bias_ih + b_hh


def step(xw_t: torch.Tensor, h: torch.Tensor, w: LayerWeights, reset_after: bool = True,
         hmask: torch.Tensor | None = None, trace: list | None = None) -> torch.Tensor:
    """One GRU step.

    Args:
        xw_t: (B, 3H) this step's `input_projection`.
        h: h_{t-1} (B, H).
        w: the layer's weights (gates r, z, n).
        reset_after: torch's and Keras' default form (True) or Keras' reset-before form (False).
        hmask: (B, H) recurrent dropout mask (scaled), or None.
        trace: when a list, a dict of this step's r, z, n, h is appended to it.

    Returns:
        h_t (B, H).

    Example:
        >>> w = LayerWeights(torch.randn(6, 3), torch.randn(6, 2))
        >>> tuple(step(torch.zeros(4, 6), torch.zeros(4, 2), w).shape)
        (4, 2)
    """
    H = h.shape[1]
    h_in = h if hmask is None else h * hmask
    x_r, x_z, x_n = xw_t.split(H, dim=1)
    W_hr, W_hz, W_hn = w.weight_hh.split(H, dim=0)
    r = torch.sigmoid(x_r + h_in @ W_hr.t())
    z = torch.sigmoid(x_z + h_in @ W_hz.t())
    if reset_after:
        b_hn = 0 if w.bias_hh is None else w.bias_hh[2 * H:]
        n = torch.tanh(x_n + r * (h_in @ W_hn.t() + b_hn))
    else:
        n = torch.tanh(x_n + (r * h_in) @ W_hn.t())
    h = (1 - z) * n + z * h
    if trace is not None:
        trace.append({"r": r, "z": z, "n": n, "h": h})
    return h
