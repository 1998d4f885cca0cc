r"""The fused kernel for the LSTM variants (`cells.lstm_variant`): lean loop, hand-written BPTT.

Forward: the input projection [LN](W_ih x) + b of all steps is computed once before the loop (one
GEMM; autograd differentiates it, again one GEMM per weight). Each step adds h_{t-1} W_hh^T (layer
normalised when asked) into its slice of a (T, B, G·H) buffer and applies the gates in place.

With a projection (proj_size P) each step also maps r_t (B, H) to h̃_t = r_t W_hr^T (B, P), and
backward maps the gradient back with one GEMM dh̃_t W_hr.

Backward, per step only the pointwise terms and one GEMM dZ_t W_hh (and dh̃_t W_hr); every factor that
does not depend on the incoming gradient is computed for all steps before the loop. dW_hh, dW_hr, the
peepholes and the layer-norm gains are then one GEMM or one reduction each over all steps. With the
symbols of `cells/lstm_variant.py`, σ'_r, φ' the activations' derivatives, c_p the previous cell, d the
zoneout masks, and dh, dc the gradients reaching h_t and c_t:

    dh̃ = (1 - d^h) dh                 dr = dh̃ W_hr  (dr = dh̃ without a projection)
    dc̃ = (1 - d^c) dc + dz_o p_o + LN_c'(dr ⊙ o ⊙ φ'(u) ⊙ γ_c)
    dz_o = dr ⊙ φ(u) ⊙ σ'_r(o)         dz_{i,f,g} = dc̃ ⊙ (g σ'_r(i), c_p σ'_r(f), i φ'(g))
                                       (CIFG: dz_i = dc̃ ⊙ (g - c_p) σ'_r(i))
    dc_{t-1} = dc̃ ⊙ f + d^c dc + dz_i p_i + dz_f p_f
    dh_{t-1} = (LN_h'(dz ⊙ γ_h) W_hh) ⊙ (recurrent-dropout mask) + d^h dh
    dW_hr = Σ_t dh̃_t^T r_t
    LN'(dn) = rstd (dn - mean(dn) - n mean(dn ⊙ n)),  n the normalised value
"""
from functools import partial

import torch

from ..cells import activations, layer_norm
from ..cells.lstm_variant import input_projection
from .fused import _ONEDNN_MIN_BACKWARD, _ONEDNN_MIN_FORWARD, _accumulating_gemm, _gemm
from .reference_variants import onnx_refusal, spec as variant_spec, zoneout_masks
from .stack import lengths_to_mask, run_stack

name = "fused"


def unsupported(config, device):
    """The variants' fused kernel runs every variant, projections included, in floating point."""
    if not config.dtype.is_floating_point:
        return f"dtype {config.dtype} is not a floating-point type"
    if config.capture == "compile":  # its autograd.Function writes into out= buffers, which Dynamo cannot trace
        return "under torch.compile / torch.export the reference loop runs (plain differentiable ops)"
    return onnx_refusal(config)


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
    return FusedVariant.apply(xw, h0, c0, w.weight_hh, w.peephole, w.ln_hh, w.ln_c_weight, w.ln_c_bias,
                              mask, hmask, D_c, D_h, reverse, spec, w.weight_hr)


def _apply(act, z, out):
    """out = act(z); sigmoid and tanh write in place."""
    if act.name in ("sigmoid", "tanh"):
        getattr(torch, act.name)(z, out=out)
    else:
        out.copy_(act.fn(z))


# torch's own layer-norm kernels, forward and backward, so the fused kernel rounds as autograd does.
def _normalize(a):
    """(a - μ) / sqrt(σ² + ε) over the last axis, and μ, 1 / sqrt(σ² + ε), each (B, 1)."""
    return torch.native_layer_norm(a, a.shape[-1:], None, None, layer_norm.EPS)


def _norm_backward(dy, a, mu, rstd, gamma):
    """The gradient of a from that of y = γ LN(a) + β: rstd (dn - mean(dn) - n mean(dn ⊙ n)), dn = γ dy."""
    return torch.ops.aten.native_layer_norm_backward(dy, a, a.shape[-1:], mu, rstd, gamma, None,
                                                     [True, False, False])[0]


def _at(d, t):
    return d[t] if isinstance(d, torch.Tensor) else d


def _shifted(S, s0, reverse):
    """The state each step started from: S one step back in processing order, s0 first. (T, B, ·)."""
    return torch.cat([S[1:], s0[None]]) if reverse else torch.cat([s0[None], S[:-1]])


class FusedVariant(torch.autograd.Function):
    """(xw, h0, c0, W_hh, p, γ_h, γ_c, β_c, mask, hmask, D_c, D_h, reverse, spec[, W_hr]) -> (Y, h_n, c_n).

    W_hr (P, H) is the projection, or None (the default) without one.
    """

    @staticmethod
    def forward(ctx, xw, h0, c0, w_hh, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse, spec, w_hr=None):
        T, B, GH = xw.shape
        H, P = c0.shape[1], h0.shape[1]
        bufs = {k: xw.new_empty(T, B, H) for k in ("CN", "U", "TAU", "C")}
        bufs["S"] = xw.new_empty(T, B, P)
        if w_hr is not None:  # r_t = o ⊙ φ(u) before the projection, for dW_hr
            bufs["R"] = xw.new_empty(T, B, H)
        bufs["Z"], bufs["A"] = xw.detach().clone(), xw.new_empty(T, B, GH)
        if spec.layer_norm:  # the recurrent projection (T, B, G·H) and the statistics of both norms
            bufs.update(AH=xw.new_empty(T, B, GH), MH=xw.new_empty(T, B, 1), RH=xw.new_empty(T, B, 1),
                        MC=xw.new_empty(T, B, 1), RC=xw.new_empty(T, B, 1))
        Y = bufs["S"] if mask is None else xw.new_empty(T, B, P)
        h, c = _forward_loop(bufs, Y, h0, c0, w_hh, w_hr, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse,
                             spec)
        ctx.spec, ctx.reverse, ctx.keys = spec, reverse, sorted(bufs)
        ctx.zoneout = (D_c, D_h)
        ctx.save_for_backward(h0, c0, w_hh, w_hr, p, g_h, g_c, mask, hmask, *[bufs[k] for k in ctx.keys])
        return Y, h.clone(), c.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dh_n, dc_n):
        h0, c0, w_hh, w_hr, p, g_h, g_c, mask, hmask, *rest = ctx.saved_tensors
        D_c, D_h = ctx.zoneout  # masks are not differentiated: kept on ctx, not saved
        bufs = dict(zip(ctx.keys, rest))
        spec, reverse = ctx.spec, ctx.reverse
        dY = torch.zeros_like(bufs["S"]) if dY is None else dY.contiguous()
        dh = torch.zeros_like(h0) if dh_n is None else dh_n.clone()
        dc = torch.zeros_like(c0) if dc_n is None else dc_n.clone()
        Cp = _shifted(bufs["C"], c0, reverse)  # c_{t-1} of every step
        F = _gate_factors(bufs, Cp, spec)
        dZ, DU = torch.empty_like(bufs["Z"]), torch.empty_like(bufs["U"]) if spec.layer_norm else None
        DHW = torch.empty_like(dZ) if spec.layer_norm else dZ  # gradient reaching h_{t-1} W_hh^T
        DH = torch.empty_like(bufs["S"]) if w_hr is not None else None  # dh̃_t (T, B, P), for dW_hr
        dh, dc = _backward_loop(bufs, F, dY, dh, dc, dZ, DU, DHW, DH, w_hh, w_hr, p, g_h, g_c, mask, hmask,
                                D_c, D_h, reverse, spec)
        *grads, dw_hr = _param_grads(ctx, bufs, Cp, dZ, DU, DHW, DH, h0, hmask)
        return (dZ, dh, dc, *grads, None, None, None, None, None, None, dw_hr)


def _forward_loop(b, Y, h, c, w_hh, w_hr, p, g_h, g_c, b_c, mask, hmask, D_c, D_h, reverse, spec):
    """The time loop, in place into the (T, ...) buffers; returns the final (h, c)."""
    T, B, GH = b["Z"].shape
    H = GH // len(spec.gates)
    project = None if w_hr is None else _gemm(w_hr, B, _ONEDNN_MIN_FORWARD)  # r (B, H) -> r W_hr^T (B, P)
    act, rec = activations.get(spec.activation), activations.get(spec.recurrent_activation)
    k = {g: slice(j * H, (j + 1) * H) for j, g in enumerate(spec.gates)}
    gemm = (_gemm(w_hh, B, _ONEDNN_MIN_FORWARD) if spec.layer_norm
            else _accumulating_gemm(w_hh, B, _ONEDNN_MIN_FORWARD))
    pi, po = (p[0], p[-1]) if p is not None else (None, None)
    pf = p[1] if p is not None and not spec.cifg else None
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        Z, A = b["Z"][t], b["A"][t]
        h_in = h if hmask is None else h * hmask
        if spec.layer_norm:
            b["AH"][t] = gemm(h_in)
            n, b["MH"][t], b["RH"][t] = _normalize(b["AH"][t])
            Z.addcmul_(n, g_h)
        else:
            gemm(Z, h_in)
        if p is not None:
            Z[:, k["i"]].addcmul_(pi, c)
            if pf is not None:
                Z[:, k["f"]].addcmul_(pf, c)
        _apply(rec, Z[:, k["i"]], A[:, k["i"]])
        f = 1 - A[:, k["i"]] if spec.cifg else A[:, k["f"]]
        if not spec.cifg:
            _apply(rec, Z[:, k["f"]], f)
        _apply(act, Z[:, k["g"]], A[:, k["g"]])
        cn = torch.mul(f, c, out=b["CN"][t]).addcmul_(A[:, k["i"]], A[:, k["g"]])
        if po is not None:
            Z[:, k["o"]].addcmul_(po, cn)
        _apply(rec, Z[:, k["o"]], A[:, k["o"]])
        if spec.layer_norm:
            n, b["MC"][t], b["RC"][t] = _normalize(cn)
            torch.addcmul(b_c, n, g_c, out=b["U"][t])
        else:
            b["U"][t] = cn
        _apply(act, b["U"][t], b["TAU"][t])
        hn = A[:, k["o"]] * b["TAU"][t]
        if project is not None:
            b["R"][t] = hn
            hn = project(hn)
        c_t = cn if D_c is None else cn + _at(D_c, t) * (c - cn)
        h_t = hn if D_h is None else hn + _at(D_h, t) * (h - hn)
        if mask is not None:
            m = mask[t][:, None]
            torch.mul(h_t, m, out=Y[t])
            h_t, c_t = h_t.where(m, h), c_t.where(m, c)
        b["S"][t], b["C"][t] = h_t, c_t
        h, c = b["S"][t], b["C"][t]
    return h, c


def _gate_factors(b, Cp, spec):
    """The gradient-independent factors of the backward, for all steps (see the module docstring).

    Returns a dict: M (T, B, G-1, H) the factors of dc̃ for the blocks before o, L = φ(u) σ'_r(o),
    K = o φ'(u), Fg the forget gate (T, B, H).
    """
    T, B, GH = b["Z"].shape
    G = len(spec.gates)
    H = GH // G
    act, rec = activations.get(spec.activation), activations.get(spec.recurrent_activation)
    Z, A = b["Z"].view(T, B, G, H), b["A"].view(T, B, G, H)
    blocks = dict(zip(spec.gates, range(G)))
    i, g, o = (A[:, :, blocks[x]] for x in "igo")
    di = rec.grad(Z[:, :, 0], i)
    dg = act.grad(Z[:, :, blocks["g"]], g)
    if spec.cifg:
        M = torch.stack([(g - Cp) * di, i * dg], 2)
        Fg = 1 - i
    else:
        Fg = A[:, :, 1]
        M = torch.stack([g * di, Cp * rec.grad(Z[:, :, 1], Fg), i * dg], 2)
    L = b["TAU"] * rec.grad(Z[:, :, -1], o)
    K = o * act.grad(b["U"], b["TAU"])
    return {"M": M, "L": L, "K": K, "Fg": Fg}


def _backward_loop(b, F, dY, dh, dc, dZ, DU, DHW, DH, w_hh, w_hr, p, g_h, g_c, mask, hmask, D_c, D_h,
                   reverse, spec):
    """The backward time loop: fills dZ (and DU, DHW with layer norm, DH with a projection); returns
    (dh_0, dc_0)."""
    T, B, GH = dZ.shape
    G = len(spec.gates)
    H = GH // G
    dZ4 = dZ.view(T, B, G, H)
    gemm = _gemm(w_hh.t(), B, _ONEDNN_MIN_BACKWARD)  # (B, G·H) -> (B, P or H)
    unproject = None if w_hr is None else _gemm(w_hr.t(), B, _ONEDNN_MIN_BACKWARD)  # dh̃ (B, P) -> dr (B, H)
    for t in (range(T) if reverse else range(T - 1, -1, -1)):
        dh_new, dc_new = dh + dY[t], dc
        if mask is not None:
            m = mask[t][:, None].to(dh.dtype)
            dh_new, dc_new = dh_new * m, dc * m
            dh_pass, dc_pass = dh * (1 - m), dc * (1 - m)
        dh_t = dh_new if D_h is None else dh_new * (1 - _at(D_h, t))
        dc_t = dc_new if D_c is None else dc_new * (1 - _at(D_c, t))
        if unproject is not None:
            DH[t] = dh_t
            dh_t = unproject(dh_t)  # dr
        du = dh_t * F["K"][t]
        if spec.layer_norm:
            DU[t] = du
            du = _norm_backward(du, b["CN"][t], b["MC"][t], b["RC"][t], g_c)
        dc_t = dc_t + du
        torch.mul(dh_t, F["L"][t], out=dZ4[t, :, -1])
        if p is not None:
            dc_t.addcmul_(dZ4[t, :, -1], p[-1])
        torch.mul(dc_t[:, None], F["M"][t], out=dZ4[t, :, :-1])
        dc = dc_t * F["Fg"][t]
        if p is not None:
            dc.addcmul_(dZ4[t, :, 0], p[0])
            if not spec.cifg:
                dc.addcmul_(dZ4[t, :, 1], p[1])
        if spec.layer_norm:
            DHW[t] = _norm_backward(dZ[t], b["AH"][t], b["MH"][t], b["RH"][t], g_h)
        dh = gemm(DHW[t])
        if hmask is not None:
            dh.mul_(hmask)
        if D_h is not None:
            dh += dh_new * _at(D_h, t)
        if D_c is not None:
            dc += dc_new * _at(D_c, t)
        if mask is not None:
            dh, dc = dh + dh_pass, dc + dc_pass
    return dh, dc


def _param_grads(ctx, b, Cp, dZ, DU, DHW, DH, h0, hmask):
    """dW_hh and dW_hr (one GEMM each), the peepholes and the layer-norm gains (one reduction each) over
    all steps."""
    spec, needs = ctx.spec, ctx.needs_input_grad
    T, B, GH = dZ.shape
    G = len(spec.gates)
    H = GH // G
    P = h0.shape[1]
    h_in = _shifted(b["S"], h0, ctx.reverse)
    if hmask is not None:
        h_in = h_in * hmask
    dw_hh = DHW.reshape(T * B, GH).t() @ h_in.reshape(T * B, P) if needs[3] else None
    dw_hr = DH.reshape(T * B, P).t() @ b["R"].reshape(T * B, H) if DH is not None and needs[14] else None
    dp = dg_h = dg_c = db_c = None
    dZ4 = dZ.view(T, B, G, H)
    if needs[4]:
        rows = [(dZ4[:, :, 0] * Cp).sum((0, 1))]
        if not spec.cifg:
            rows.append((dZ4[:, :, 1] * Cp).sum((0, 1)))
        rows.append((dZ4[:, :, -1] * b["CN"]).sum((0, 1)))
        dp = torch.stack(rows)
    if spec.layer_norm:  # the normalised values, recomputed for all steps at once
        dg_h = (dZ * (b["AH"] - b["MH"]) * b["RH"]).sum((0, 1))
        dg_c, db_c = (DU * (b["CN"] - b["MC"]) * b["RC"]).sum((0, 1)), DU.sum((0, 1))
    return dw_hh, dp, dg_h, dg_c, db_c, dw_hr
