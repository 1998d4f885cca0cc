r"""The simple (Elman) recurrent cell, as torch.nn.RNN.

Symbols: x_t input (B, I); h_{t-1} hidden state (B, H); φ the nonlinearity, tanh or relu.

    h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

Weights in torch's layout: weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,), held in a
`cells.LayerWeights`. The input term is computed for all steps at once (`input_projection`, the LSTM's:
the two biases add); `step` does the rest. With variational recurrent dropout the recurrent product
uses h_{t-1} ⊙ m, one mask m per sequence.
"""
import torch

from .lstm import LayerWeights, input_projection

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}

__all__ = ["NONLINEARITIES", "init_state", "input_projection", "step"]


def init_state(batch: int, w: LayerWeights, like: torch.Tensor) -> torch.Tensor:
    """Zero h of shape (B, H) on like's device and dtype."""
    return like.new_zeros(batch, w.weight_hh.shape[1])


def step(xw_t: torch.Tensor, h: torch.Tensor, w: LayerWeights, nonlinearity: str = "tanh",
         hmask: torch.Tensor | None = None) -> torch.Tensor:
    """One step.

    Args:
        xw_t: (B, H) input projection for this step, both biases included.
        h: h_{t-1} (B, H).
        w: the layer's weights.
        nonlinearity: "tanh" or "relu".
        hmask: (B, H) recurrent dropout mask (scaled), or None.

    Returns:
        h_t (B, H).

    Example:
        >>> w = LayerWeights(torch.randn(3, 2), torch.randn(3, 3))
        >>> tuple(step(torch.zeros(4, 3), torch.zeros(4, 3), w).shape)
        (4, 3)
    """
    h_in = h if hmask is None else h * hmask
    return NONLINEARITIES[nonlinearity](xw_t + h_in @ w.weight_hh.t())
