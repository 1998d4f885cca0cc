"""The compiled kernel for the LSTM variants: `fused_variants`' math with the whole time loop in C++.

`csrc/variants.cpp` runs every option of `cells/lstm_variant.py` (peephole, CIFG, layer norm, zoneout,
any activation of `cells/activations.py`), projections (proj_size), masks, recurrent dropout, float32 and
float64: per step one BLAS GEMM (two with a projection) and loops of gate math the compiler vectorises,
where `fused_variants` drives about 120 torch calls per step from Python. The input projection [LN](W_ih x) + b of all steps stays in Python
(one GEMM, differentiated by autograd), as in `fused_variants`; the loop and its hand-written backward
are one native call each. The zoneout masks are drawn in Python in the same order as the other
kernels, so the same seed gives the same masks on each. The library is `kernels.compiled`'s (one
library for every `csrc/*.cpp`); where it cannot be built, `unsupported` says why and `select` falls
back to `fused_variants`.

Example:
    >>> import torch, lstmkit
    >>> lstm = lstmkit.nn.LSTM(3, 8, peephole=True, layer_norm=True, engine="compiled")
    >>> tuple(lstm(torch.randn(5, 2, 3))[0].shape)
    (5, 2, 8)
"""
from functools import partial

import torch

from ..cells.lstm_variant import input_projection
from . import compiled
from .reference_variants import onnx_refusal, spec as variant_spec, zoneout_masks
from .stack import first_order, lengths_to_mask, run_stack

name = "compiled"
# The activation codes of csrc/variants.cpp's `Act` enum, by Keras name (aliases share a code).
ACTIVATION_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2, "hard_sigmoid": 3, "relu": 4, "relu6": 5,
                    "leaky_relu": 6, "elu": 7, "selu": 8, "softplus": 9, "softsign": 10, "swish": 11, "silu": 11,
                    "hard_silu": 12, "hard_swish": 12, "gelu": 13, "mish": 14, "exponential": 15}


def unsupported(config, device):
    """Why the compiled variants kernel cannot run `config` on `device`, or None."""
    if torch.device(device).type != "cpu":
        return "runs on the CPU only"
    if config.capture:  # no fake-tensor registration, as the compiled LSTM kernel
        return ("has no fake-tensor registration, so torch.compile and torch.export run the reference loop "
                "instead") if config.capture == "compile" else onnx_refusal(config)
    if torch.jit.is_tracing():  # the trace would record the inference and autograd paths as different graphs
        return "under torch.jit.trace the fused kernel runs (its torch ops trace as one graph)"
    if config.dtype not in compiled._DTYPES:
        return f"dtype {config.dtype} is not supported (float32 and float64 are)"
    return compiled.load_error()


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract; `weights` are `cells.lstm_variant.VariantWeights`."""
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_stack(partial(layer, spec=variant_spec(config), training=training), x, hx, weights, config,
                     training, mask)


def layer(x, h0, c0, w, reverse, mask, hmask, *, spec, training):
    """One layer and direction: (T, B, I) -> (T, B, P or H), h_n (B, P or H), c_n (B, H)."""
    D_c, D_h = zoneout_masks(x, w, spec, training)
    xw = input_projection(x, w, spec)  # (T, B, G·H)
    # xw is this layer's own temporary (no autograd node saves it), so the kernel may overwrite it
    args = (xw, h0, c0, w.weight_hh, w.peephole, w.ln_hh, w.ln_c_weight, w.ln_c_bias, mask, hmask, D_c, D_h,
            reverse, spec, True, w.weight_hr)
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return CompiledVariant.apply(*args)
    return tuple(_forward(*args)[:3])  # inference: no autograd node, nothing kept for a backward


def _options(D_c, D_h, reverse, spec):
    """The trailing arguments of the C++ ops: zoneout masks or expectations, direction, cell options."""
    tensors = [d if isinstance(d, torch.Tensor) else None for d in (D_c, D_h)]
    zs = [float(d) if d is not None and not isinstance(d, torch.Tensor) else 0.0 for d in (D_c, D_h)]
    codes = [ACTIVATION_CODES[spec.activation or "linear"], ACTIVATION_CODES[spec.recurrent_activation or "linear"]]
    return tensors, zs, codes


def _forward(xw, h0, c0, w_hh, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse, spec, scratch=False, w_hr=None):
    """[Y, h_n, c_n, Z, A, CN, U, TAU, C, S, AH, MH, RH, MC, RC, R]: outputs and what backward reads."""
    (dc, dh), (zc, zh), (act, rec) = _options(D_c, D_h, reverse, spec)
    return compiled._ops().variants_forward(xw.detach(), h0.detach(), c0.detach(), w_hh.detach(),
                                            *_detached(p, g_h, g_c, b_c), mask, hmask, dc, dh, zc, zh, reverse,
                                            spec.cifg, spec.layer_norm, act, rec, scratch,
                                            None if w_hr is None else w_hr.detach())


def _detached(*ts):
    return [t.detach() if t is not None else None for t in ts]


class CompiledVariant(torch.autograd.Function):
    """(xw, h0, c0, W_hh, p, γ_h, γ_c, β_c, mask, hmask, D_c, D_h, reverse, spec[, scratch, W_hr])
    -> (Y, h_n, c_n).

    scratch: xw is the caller's temporary, which the kernel may overwrite (default False: it copies).
    W_hr: the projection (P, H), or None (the default) without one.
    """

    @staticmethod
    def forward(ctx, xw, h0, c0, w_hh, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse, spec, scratch=False,
                w_hr=None):
        out = _forward(xw, h0, c0, w_hh, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse, spec, scratch, w_hr)
        ctx.reverse, ctx.spec, ctx.zoneout, ctx.n = reverse, spec, (D_c, D_h), len(out)
        ctx.absent = [t is None for t in (p, g_h, g_c, b_c, mask, hmask, w_hr)]
        present = [t for t in (p, g_h, g_c, b_c, mask, hmask, w_hr) if t is not None]
        ctx.save_for_backward(h0, c0, w_hh, *present, *out[3:])  # Y, h_n, c_n are not read by backward
        return out[0], out[1], out[2]

    @staticmethod
    @first_order
    def backward(ctx, dY, dh_n, dc_n):
        h0, c0, w_hh, *rest = ctx.saved_tensors
        k = ctx.absent.count(False)
        it = iter(rest[:k])
        p, g_h, g_c, b_c, mask, hmask, w_hr = (None if a else next(it) for a in ctx.absent)
        none = h0.new_empty(0)
        saved = [none, none, none, *rest[k:]]
        dY = torch.zeros_like(rest[k + 6]) if dY is None else dY  # S: (T, B, P or H)
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        dc_n = torch.zeros_like(c0) if dc_n is None else dc_n
        (dc, dh), (zc, zh), (act, rec) = _options(*ctx.zoneout, ctx.reverse, ctx.spec)
        grads = compiled._ops().variants_backward(dY, dh_n, dc_n, saved, h0, c0, w_hh, p, g_h, g_c, b_c, mask,
                                                  hmask, dc, dh, zc, zh, ctx.reverse, ctx.spec.cifg, act, rec,
                                                  w_hr)
        dxw, dh0, dc0, dw_hh, dp, dg_h, dg_c, db_c, dw_hr = (g if g.numel() or i < 4 else None
                                                            for i, g in enumerate(grads))
        return dxw, dh0, dc0, dw_hh, dp, dg_h, dg_c, db_c, None, None, None, None, None, None, None, dw_hr
