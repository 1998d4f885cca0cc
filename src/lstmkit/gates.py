"""The one gate order and every conversion out of it.

Public layout (torch.nn.LSTM and Keras): gates stacked as (i, f, g, o) along the 4H axis.
- torch: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
- Keras: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,) — transposed kernels, one bias.

The fused kernel works internally in (o, i, f, g) order: one sigmoid covers o, i, f and one tanh
covers g, and in backward the three gates multiplied by dc (i, f, g) sit next to each other.
Weights are reordered once per call; the public layout never changes.
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
