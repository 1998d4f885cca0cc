"""Keras-style initialisation of LSTM weights, for the Keras-style layers."""
import torch
from torch import nn

from ..cells import LayerWeights


@torch.no_grad()
def keras_(w: LayerWeights) -> None:
    """Initialise one layer in place as Keras does by default.

    glorot-uniform input weights (fans of the Keras kernel (I, 4H)), orthogonal recurrent weights
    (on the Keras recurrent kernel (H, 4H)), zero biases with the forget gate's bias at 1
    (`unit_forget_bias`; put in bias_ih, so b_ih + b_hh equals Keras' single bias).
    """
    H = w.hidden_size
    nn.init.xavier_uniform_(w.weight_ih)  # fan_in=I, fan_out=4H, as for Keras' (I, 4H) kernel
    kernel = torch.empty(w.weight_hh.shape[1], 4 * H, dtype=w.weight_hh.dtype)  # (P or H, 4H)
    nn.init.orthogonal_(kernel)
    w.weight_hh.copy_(kernel.t())
    if w.bias_ih is not None:
        w.bias_ih.zero_()
        w.bias_hh.zero_()
        w.bias_ih[H:2 * H] = 1.0
    if w.weight_hr is not None:
        nn.init.xavier_uniform_(w.weight_hr)
