r"""The standard LSTM cell (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000).

Symbols: x_t input (B, I); h_{t-1} hidden state (B, P or H); c_{t-1} cell state (B, H);
σ the logistic sigmoid; ⊙ the elementwise product. Gates are stacked (i, f, g, o), as in torch.

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate cell
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     cell state
    h_t = o_t ⊙ tanh(c_t)                              hidden state
    h_t = W_hr h_t                                     projection, when proj_size P > 0

The input terms W_i· x_t + b_i· do not depend on the recurrence, so they are computed for all steps
at once (`input_projection`); `step` does the rest of one step.
"""
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LayerWeights:
    """One layer and direction, in torch.nn.LSTM's layout and gate order (i, f, g, o)."""
    weight_ih: torch.Tensor  # (4H, I)
    weight_hh: torch.Tensor  # (4H, P or H)
    bias_ih: torch.Tensor | None = None  # (4H,)
    bias_hh: torch.Tensor | None = None  # (4H,)
    weight_hr: torch.Tensor | None = None  # (P, H)

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[0] // 4

    @property
    def output_size(self) -> int:
        return self.weight_hr.shape[0] if self.weight_hr is not None else self.hidden_size

    @property
    def bias(self) -> torch.Tensor | None:
        """b_ih + b_hh, or None without biases."""
        if self.bias_ih is None:
            return None
        return self.bias_ih + self.bias_hh


def init_state(batch: int, w: LayerWeights, like: torch.Tensor):
    """Zero (h, c) of shapes (B, P or H) and (B, H), on like's device and dtype."""
    h = like.new_zeros(batch, w.output_size)
    c = like.new_zeros(batch, w.hidden_size)
    return h, c


def input_projection(x: torch.Tensor, w: LayerWeights) -> torch.Tensor:
    """W_ih x_t + b_ih + b_hh for every step: (T, B, I) -> (T, B, 4H)."""
    b = w.bias
    xw = torch.matmul(x, w.weight_ih.t())  # (T, B, 4H)
    return xw if b is None else xw + b


def step(xw_t: torch.Tensor, state, w: LayerWeights, trace: list | None = None):
    """One LSTM step.

    Args:
        xw_t: (B, 4H) input projection for this step, biases included.
        state: (h_{t-1} (B, P or H), c_{t-1} (B, H)).
        w: the layer's weights.
        trace: when a list, a dict of this step's i, f, g, o, c, h is appended to it.

    Returns:
        (h_t, (h_t, c_t)).
    """
    h, c = state
    gates = xw_t + h @ w.weight_hh.t()  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    if w.weight_hr is not None:
        h = h @ w.weight_hr.t()  # (B, P)
    if trace is not None:
        trace.append({"i": i, "f": f, "g": g, "o": o, "c": c, "h": h})
    return h, (h, c)
