"""The oracle for the LSTM variants: a plain time loop over `cells.lstm_variant.step`, autograd for BPTT."""
from functools import partial

import torch

from ..cells import zoneout
from ..cells.lstm_variant import VariantSpec, input_projection, step
from .stack import lengths_to_mask, run_stack

name = "reference"
VARIANT_FIELDS = ("peephole", "cifg", "layer_norm", "zoneout_c", "zoneout_h", "activation",
                  "recurrent_activation")


def spec(config) -> VariantSpec:
    """The variant options of a kernels.KernelConfig."""
    return VariantSpec(**{k: getattr(config, k) for k in VARIANT_FIELDS})


def is_variant(config) -> bool:
    """Whether `config` asks for anything but the standard LSTM cell."""
    # Field by field, not `spec(config) != VariantSpec()`: torch.compile traces this comparison.
    return any(getattr(config, k) != getattr(_STANDARD, k) for k in VARIANT_FIELDS)


_STANDARD = VariantSpec()


def unsupported(config, device):
    """The reference runs every variant configuration, projections included, but not under ONNX export."""
    return onnx_refusal(config)


def onnx_refusal(config):
    """Why an LSTM variant is not exported to ONNX (None outside an ONNX export)."""
    if config.capture != "onnx":
        return None
    return (f"ONNX's LSTM op has no {', '.join(spec(config).names())} and the loop would be exported for the "
            "example's length only; export a standard LSTM, or keep this model in torch (torch.export)")


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract; `weights` are `cells.lstm_variant.VariantWeights`."""
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_stack(partial(layer, spec=spec(config), training=training), x, hx, weights, config,
                     training, mask)


def zoneout_masks(x, w, spec, training):
    """(d^c (T, B, H), d^h (T, B, P or H)) for all steps of one layer and direction, `w` its
    VariantWeights; sampled in this order by every kernel."""
    T, B = x.shape[:2]
    return (zoneout.masks(spec.zoneout_c, (T, B, w.hidden_size), training, x),
            zoneout.masks(spec.zoneout_h, (T, B, w.output_size), training, x))


def layer(x, h0, c0, w, reverse, mask, hmask, *, spec, training):
    """One layer and direction: (T, B, I) -> (T, B, P or H), h_n (B, P or H), c_n (B, H)."""
    D_c, D_h = zoneout_masks(x, w, spec, training)
    xw = input_projection(x, w, spec).unbind(0)  # T x (B, G·H)
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    h, c = h0, c0
    ys = [None] * x.shape[0]
    for t in steps:
        d_c = D_c[t] if isinstance(D_c, torch.Tensor) else D_c
        d_h = D_h[t] if isinstance(D_h, torch.Tensor) else D_h
        h_new, (_, c_new) = step(xw[t], (h, c), w, spec, d_c, d_h, None if hmask is None else h * hmask)
        if mask is None:
            h, c, ys[t] = h_new, c_new, h_new
        else:
            m = mask[t][:, None]  # (B, 1)
            h, c = h_new.where(m, h), c_new.where(m, c)
            ys[t] = h_new * m
    return torch.stack(ys), h, c
