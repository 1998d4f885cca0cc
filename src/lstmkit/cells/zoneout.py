r"""Zoneout on c and h (Krueger et al. 2016): units keep their previous value at random.

With d_t a (B, H) mask of independent Bernoulli(z) draws in training and the constant z at inference
(the expectation of the mask), c̃_t, h̃_t the cell's new values:

    c_t = d^c_t ⊙ c_{t-1} + (1 - d^c_t) ⊙ c̃_t
    h_t = d^h_t ⊙ h_{t-1} + (1 - d^h_t) ⊙ h̃_t
"""
import torch


def masks(z: float, shape, training: bool, like: torch.Tensor):
    """The d_t for all steps: a (T, B, H) 0/1 tensor in training, the float z at inference, None if z == 0."""
    if z <= 0:
        return None
    if not training:
        return z
    return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(z)


def mix(d, previous: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """d ⊙ previous + (1 - d) ⊙ new (d a (B, H) mask, a float, or None for no zoneout)."""
    if d is None:
        return new
    return new + d * (previous - new)
