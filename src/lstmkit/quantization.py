"""`quantize(model)`: int8 dynamic quantization of lstmkit's and torch's LSTMs, LSTMCells and Linears.

Dynamic quantization stores the weights as int8 and quantizes activations on the fly, per call; it
runs on torch's quantized LSTM op (`torch.ao.nn.quantized.dynamic.LSTM`, fbgemm/qnnpack) and is for
inference on the CPU. `torch.ao.quantization.quantize_dynamic` picks modules by their exact class, so
it leaves lstmkit's modules in float unless it is given lstmkit's classes and mapping:

    quantize_dynamic(model, {lstmkit.nn.LSTM, torch.nn.Linear},
                     mapping=lstmkit.quantization.quantize_mapping())

What cannot be quantized (a clear error, not a silent float module): projections (`proj_size`: torch's
quantized op has none), float64 models, and at call time a step `mask=` other than right padding
(torch's op has no step mask; a right-padding mask runs as a PackedSequence). A bias-free LSTM is quantized with zero biases, the
same function. Recurrent dropout and dropout apply only in training, which quantized models do not do.
"""
import copy
import warnings

import torch
from torch import nn
from torch.ao.nn.quantized import dynamic as qdynamic
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import nn as lnn
from .errors import LstmkitError

_DTYPES = (torch.qint8, torch.float16)


class QuantizedLSTM(nn.Module):
    """An lstmkit.nn.LSTM's weights in torch's dynamic-quantized LSTM, with lstmkit.nn.LSTM's call.

    Inputs and outputs are those of `lstmkit.nn.LSTM` (tensor or PackedSequence, optional (h0, c0));
    a `mask=` of right padding runs as a PackedSequence, any other mask is refused with the reason.
    Build one with `quantize(model)` or `from_float`.
    """

    def __init__(self, lstm: nn.Module):
        super().__init__()
        self.lstm = lstm  # torch.ao.nn.quantized.dynamic.LSTM

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """lstmkit.nn.LSTM carrying a `qconfig` (set by quantize_dynamic) -> QuantizedLSTM."""
        _check_lstm(mod)
        twin = nn.LSTM(mod.input_size, mod.hidden_size, mod.num_layers, True, mod.batch_first, mod.dropout,
                       mod.bidirectional, dtype=mod.weight_ih_l0.dtype, device=mod.weight_ih_l0.device)
        _copy_weights(mod, twin)
        twin.qconfig = mod.qconfig
        return cls(qdynamic.LSTM.from_float(twin))

    def forward(self, input, hx=None, *, mask=None):
        if mask is None:
            return self.lstm(input, hx)
        if isinstance(input, PackedSequence):
            raise LstmkitError("mask: expected no mask with a PackedSequence input")
        return self._right_padded(input, hx, mask)

    def _right_padded(self, x, hx, mask):
        """A right-padding mask (True steps first in every row) run as a PackedSequence: padded steps
        output zeros and leave the state alone, as lstmkit.nn.LSTM does under the mask."""
        lengths = mask.sum(1 if self.lstm.batch_first else 0)  # (B,)
        steps = torch.arange(mask.shape[1 if self.lstm.batch_first else 0], device=mask.device)
        prefix = steps[None, :] < lengths[:, None]  # (B, T)
        if not torch.equal(mask.bool(), prefix if self.lstm.batch_first else prefix.t()):
            raise LstmkitError("mask: a dynamic-quantized LSTM runs torch's quantized op, which takes right "
                               "padding only (as a PackedSequence); got a mask with steps off before steps on "
                               "(left padding?); pad on the right, or keep this LSTM in float")
        # An empty row runs one step and is zeroed after: a PackedSequence has no empty sequences.
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), self.lstm.batch_first, enforce_sorted=False)
        y, (h, c) = self.lstm(packed, hx)
        y, _ = pad_packed_sequence(y, self.lstm.batch_first, total_length=len(steps))
        keep = (lengths > 0).to(y.dtype)  # (B,)
        y = y * (keep[:, None, None] if self.lstm.batch_first else keep[None, :, None])
        return y, (h * keep[None, :, None], c * keep[None, :, None])

    def select_kernel(self, masked=False, packed=False):
        """For `lstmkit.explain`: (None, what runs)."""
        return None, "int8 dynamic quantization: torch.ao.nn.quantized.dynamic.LSTM"


class _QuantizedCell:
    """lstmkit.nn.LSTMCell or torch.nn.LSTMCell, bias or not -> torch.ao.nn.quantized.dynamic.LSTMCell."""

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        _check_dtype(mod.weight_ih, type(mod).__name__)
        twin = nn.LSTMCell(mod.input_size, mod.hidden_size, True, dtype=mod.weight_ih.dtype,
                           device=mod.weight_ih.device)
        _copy_weights(mod, twin)
        twin.qconfig = mod.qconfig
        return qdynamic.LSTMCell.from_float(twin)


class _TorchLSTM:
    """torch.nn.LSTM -> torch's quantized LSTM (its own class; torch's refuses bias=False)."""

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        _check_lstm(mod)
        if mod.bias:
            return qdynamic.LSTM.from_float(mod)
        return QuantizedLSTM.from_float(mod).lstm


def quantize_mapping() -> dict:
    """torch's default dynamic-quantization mapping plus lstmkit's modules (and bias-free torch LSTMs),
    for `torch.ao.quantization.quantize_dynamic(..., mapping=quantize_mapping())`."""
    from torch.ao.quantization.quantization_mappings import get_default_dynamic_quant_module_mappings
    mapping = dict(get_default_dynamic_quant_module_mappings())
    mapping.update({lnn.LSTM: QuantizedLSTM, nn.LSTM: _TorchLSTM, lnn.LSTMCell: _QuantizedCell,
                    nn.LSTMCell: _QuantizedCell})
    return mapping


def quantize(model: nn.Module, *, dtype=torch.qint8) -> nn.Module:
    """A copy of `model` whose LSTMs, LSTMCells and Linears (lstmkit's and torch's) are dynamic-quantized.

    Args:
        model: any torch module (a bare LSTM too); it is not changed.
        dtype: torch.qint8 (int8 weights, the default) or torch.float16 (keyword-only).

    Returns:
        The quantized copy, in eval mode, for CPU inference. Outputs differ from float by the int8
        rounding: about 1e-2 of the output scale for H=50-256 (measured in the tests).

    Raises:
        LstmkitError: a module that cannot be quantized (see the module docstring), or a bad dtype.

    Example:
        >>> import torch, lstmkit
        >>> q = lstmkit.quantize(torch.nn.Sequential(lstmkit.nn.LSTM(4, 8)))
        >>> type(q[0]).__name__
        'QuantizedLSTM'
    """
    if dtype not in _DTYPES:
        raise LstmkitError(f"dtype: expected torch.qint8 or torch.float16, got {dtype!r}")
    targets = {lnn.LSTM, lnn.LSTMCell, nn.LSTM, nn.LSTMCell, nn.Linear}
    # quantize_dynamic swaps children only: a bare module goes in a container and comes out again.
    holder = nn.Sequential(copy.deepcopy(model)).eval()
    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to torchao; torchao has no quantized LSTM.
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.quantization import quantize_dynamic
        return quantize_dynamic(holder, targets, dtype=dtype, mapping=quantize_mapping(), inplace=True)[0]


def _check_lstm(mod):
    name = type(mod).__module__.split(".")[0] + ".nn.LSTM"
    if mod.proj_size:
        raise LstmkitError(f"proj_size: torch's dynamic-quantized LSTM has no projection, got a {name} with "
                           f"proj_size={mod.proj_size}; keep it in float and quantize the Linears only: "
                           "quantize_dynamic(model, {torch.nn.Linear})")
    _check_dtype(mod.weight_ih_l0, name)


def _check_dtype(weight, name):
    if weight.dtype != torch.float32:
        raise LstmkitError(f"dtype: dynamic quantization starts from float32 weights, got a {name} in "
                           f"{weight.dtype}; convert it with .float() first")


def _copy_weights(src, dst):
    """Copy src's parameters into the biased torch module dst; absent biases become zeros."""
    with torch.no_grad():
        for name, p in dst.named_parameters():
            q = getattr(src, name, None)
            p.copy_(q if q is not None else torch.zeros_like(p))
