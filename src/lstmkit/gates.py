"""The one gate order and every conversion out of it.

Public layout (torch.nn.LSTM and Keras): gates stacked as (i, f, g, o) along the 4H axis.
- torch: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
- Keras: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,) — transposed kernels, one bias.

The fused kernel works internally in (o, i, f, g) order: one sigmoid covers o, i, f and one tanh
covers g, and in backward the three gates multiplied by dc (i, f, g) sit next to each other.
Weights are reordered once per call; the public layout never changes.

The simple RNN has one gate and uses `torch_to_keras` / `keras_to_torch` as they are; the GRU has its
own conversions below (gate order and Keras' two bias layouts).
"""
import torch

GATES = ("i", "f", "g", "o")
INTERNAL = ("o", "i", "f", "g")
_TO_INTERNAL = [GATES.index(k) for k in INTERNAL]  # [3, 0, 1, 2]
_FROM_INTERNAL = [INTERNAL.index(k) for k in GATES]  # [1, 2, 3, 0]
_TO_ONNX = [GATES.index(k) for k in ("i", "o", "f", "g")]  # [0, 3, 1, 2]


def _permute(t: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Reorder the four H-sized blocks of dim 0 of a (4H, ...) or (4H,) tensor."""
    h = t.shape[0] // 4
    return t.view(4, h, *t.shape[1:])[order].reshape(t.shape)


def to_internal(t: torch.Tensor) -> torch.Tensor:
    """(i, f, g, o) -> (o, i, f, g) along dim 0."""
    return _permute(t, _TO_INTERNAL)


def from_internal(t: torch.Tensor) -> torch.Tensor:
    """(o, i, f, g) -> (i, f, g, o) along dim 0."""
    return _permute(t, _FROM_INTERNAL)


def to_onnx(t: torch.Tensor) -> torch.Tensor:
    """(i, f, g, o) -> ONNX's LSTM order (i, o, f, c), where c is the candidate g, along dim 0."""
    return _permute(t, _TO_ONNX)


def torch_to_keras(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """torch.nn.LSTM layer weights -> Keras LSTM (kernel, recurrent_kernel, bias).

    Keras keeps one bias, so the two torch biases are summed (the model computes the same).
    """
    kernel = weight_ih.t().contiguous()  # (I, 4H)
    recurrent = weight_hh.t().contiguous()  # (H, 4H)
    if bias_ih is None and bias_hh is None:
        return kernel, recurrent, None
    bias = sum(b for b in (bias_ih, bias_hh) if b is not None)
    return kernel, recurrent, bias.clone()


def keras_to_torch(kernel, recurrent_kernel, bias=None):
    """Keras LSTM (kernel, recurrent_kernel, bias) -> torch (weight_ih, weight_hh, bias_ih, bias_hh).

    The Keras bias goes to bias_ih; bias_hh is zero.
    """
    weight_ih = kernel.t().contiguous()  # (4H, I)
    weight_hh = recurrent_kernel.t().contiguous()  # (4H, H)
    if bias is None:
        return weight_ih, weight_hh, None, None
    return weight_ih, weight_hh, bias.clone(), torch.zeros_like(bias)


# GRU. torch stacks the gates (r, z, n) along the 3H axis, Keras (z, r, h) — the same gates, the
# first two swapped. Keras' bias is (2, 3H) with reset_after=True (row 0 the input bias, row 1 the
# recurrent bias, as torch's bias_ih and bias_hh) and one (3H,) bias with reset_after=False.
GRU_GATES = ("r", "z", "n")
KERAS_GRU_GATES = ("z", "r", "h")
_GRU_SWAP = [1, 0, 2]  # (r, z, n) <-> (z, r, h); its own inverse


def _swap_rz(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Swap the first two of the three H-sized blocks of `dim` (a copy)."""
    h = t.shape[dim] // 3
    return torch.cat([t.narrow(dim, k * h, h) for k in _GRU_SWAP], dim)


def gru_torch_to_keras(weight_ih, weight_hh, bias_ih=None, bias_hh=None, reset_after=True):
    """GRU weights in torch's layout -> Keras' (kernel (I, 3H), recurrent_kernel (H, 3H), bias).

    Args:
        weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,): gates (r, z, n).
        reset_after: Keras' form. True: bias (2, 3H) = [bias_ih; bias_hh]. False: bias (3H,) =
            bias_ih + bias_hh, which computes the same only in lstmkit's reset_after=False math, where
            b_hn is added outside the reset gate (see `cells.gru`).

    Returns:
        (kernel, recurrent_kernel, bias or None), gates (z, r, h).

    Example:
        >>> k, rk, b = gru_torch_to_keras(torch.zeros(6, 4), torch.zeros(6, 2), torch.zeros(6), torch.zeros(6))
        >>> tuple(k.shape), tuple(rk.shape), tuple(b.shape)
        ((4, 6), (2, 6), (2, 6))
    """
    kernel = _swap_rz(weight_ih.t(), 1)  # (I, 3H)
    recurrent = _swap_rz(weight_hh.t(), 1)  # (H, 3H)
    if bias_ih is None:
        return kernel, recurrent, None
    if reset_after:
        return kernel, recurrent, torch.stack([_swap_rz(bias_ih, 0), _swap_rz(bias_hh, 0)])  # (2, 3H)
    return kernel, recurrent, _swap_rz(bias_ih + bias_hh, 0)


def gru_keras_to_torch(kernel, recurrent_kernel, bias=None, reset_after=True):
    """Keras GRU weights (gates z, r, h) -> torch's (weight_ih, weight_hh, bias_ih, bias_hh), gates (r, z, n).

    With reset_after=False Keras' one (3H,) bias goes to bias_ih and bias_hh is zero.

    Example:
        >>> w_ih, w_hh, b_ih, b_hh = gru_keras_to_torch(torch.zeros(4, 6), torch.zeros(2, 6), torch.zeros(2, 6))
        >>> tuple(w_ih.shape), tuple(b_hh.shape)
        ((6, 4), (6,))
    """
    weight_ih = _swap_rz(kernel, 1).t().contiguous()  # (3H, I)
    weight_hh = _swap_rz(recurrent_kernel, 1).t().contiguous()  # (3H, H)
    if bias is None:
        return weight_ih, weight_hh, None, None
    if reset_after:
        return weight_ih, weight_hh, _swap_rz(bias[0], 0), _swap_rz(bias[1], 0)
    return weight_ih, weight_hh, _swap_rz(bias, 0), torch.zeros_like(bias)
