r"""Coupled input-forget gate (CIFG; Greff et al. 2017, "LSTM: A Search Space Odyssey").

The forget gate is not learned; it is tied to the input gate, so the cell writes only as much as it
forgets and the layer has three gate blocks (i, g, o) instead of four:

    f_t = 1 - i_t
"""
import torch

GATES = ("i", "g", "o")  # the coupled cell's blocks along the 3H axis, in the public gate order minus f


def forget(i: torch.Tensor) -> torch.Tensor:
    """f_t = 1 - i_t."""
    return 1 - i
