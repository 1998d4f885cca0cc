"""lstmkit's fast kernel: the `cells.lstm` math with a hand-written backward pass (BPTT).

Forward: the input projection of all T steps is one GEMM into a (T, B, 4H) buffer; each step adds
h_{t-1} W_hh^T into its slice in place, applies one sigmoid to (o, i, f) and one tanh to g (internal
gate order, see `gates.py`), and updates c and h with out= operations into preallocated buffers.
On the CPU the recurrent GEMMs use oneDNN's packed matmul at the sizes where it beats MKL's.

Backward: per step only the pointwise gate derivatives and one GEMM `dG_t W_hh`; every factor of
the gate derivatives that does not depend on the incoming gradient is computed for all steps at
once before the loop. dW_ih, dW_hh, dW_hr, the biases and dx are then one GEMM each over all steps.

With o, i, f, g the activated gates, c_p the previous cell state, τ = tanh(c_t) and dh the gradient
reaching h_t (through the projection when there is one, as dr = dh W_hr):
    d(o_pre) = dr ⊙ τ ⊙ o(1-o)                    = dr ⊙ L
    dc      += dr ⊙ o ⊙ (1-τ²)                    = dr ⊙ K
    d(i_pre, f_pre, g_pre) = dc ⊙ (g i(1-i), c_p f(1-f), i(1-g²)) = dc ⊙ M
    dc_{t-1} = dc ⊙ f,   dh_{t-1} = dG_t W_hh (⊙ the recurrent-dropout mask)
"""
from typing import Optional

import torch
from torch import Tensor

from .. import gates
from . import ops
from .stack import lengths_to_mask, run_stack

name = "fused"


def unsupported(config, device):
    """The fused kernels run every LSTM, GRU and simple-RNN configuration on any device torch's GEMMs run on."""
    if config.capture == "onnx":
        return "ONNX has no op for lstmkit's fused kernel; ONNX export runs torch's op, exported as ONNX's LSTM"
    if not config.dtype.is_floating_point:
        return f"dtype {config.dtype} is not a floating-point type"
    if config.cell != "lstm" and (config.capture == "compile" or torch.jit.is_tracing()):
        # only the LSTM's fused kernel is a registered custom op; the GRU's and the simple RNN's are
        # autograd Functions writing into out= buffers, which Dynamo cannot trace nor TorchScript replay
        return ("under torch.compile, torch.export and torch.jit.trace the GRU's and simple RNN's fused "
                "kernels give way to torch's op or the reference loop")
    return None


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract."""
    if config.cell != "lstm":  # the GRU's and the simple RNN's own fused kernels
        from . import fused_gru, fused_rnn  # here: they build on this module
        return (fused_gru if config.cell == "gru" else fused_rnn).run(x, hx, weights, config, training, mask,
                                                                     lengths)
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_stack(layer, x, hx, weights, config, training, mask)


def layer(x, h0, c0, w, reverse, mask, hmask):
    """One layer and direction: (T, B, I) -> (T, B, P), h_n (B, P), c_n (B, H)."""
    Y, h, c, *_ = _op(x, h0, c0, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, w.weight_hr, mask, hmask,
                      reverse)
    return Y, h, c


def forward(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor],
            b_hh: Optional[Tensor], w_hr: Optional[Tensor], mask: Optional[Tensor], hmask: Optional[Tensor],
            reverse: bool) -> list[Tensor]:
    """[Y (T, B, P), h_n (B, P), c_n (B, H)] and the residuals backward needs: G (T, B, 4H) activated
    gates in internal order, C and TC (T, B, H), R (T, B, H) (empty without projection), S (T, B, P)
    (empty without a mask, where it is Y)."""
    T, B, _ = x.shape
    H = w_hh.shape[0] // 4
    W_ih = gates.to_internal(w_ih)  # (4H, I), rows (o, i, f, g)
    W_hh = gates.to_internal(w_hh)  # (4H, P)
    step_gemm = _accumulating_gemm(W_hh, B, _ONEDNN_MIN_FORWARD)  # acc += h W_hh^T
    # Pre-activations of all steps, then the activated gates in place: (T, B, 4H). Not out=:
    # addmm with a broadcast bias into out= computes elsewhere and copies.
    x2 = x.reshape(T * B, -1)
    if b_ih is None:
        G = torch.mm(x2, W_ih.t()).view(T, B, 4 * H)
    else:
        G = torch.addmm(gates.to_internal(b_ih + b_hh), x2, W_ih.t()).view(T, B, 4 * H)
    C = x.new_empty(T, B, H)  # cell state after each step (carried through masked steps)
    TC = x.new_empty(T, B, H)  # tanh(c_t) of the step's new cell
    R = x.new_empty(T, B, H) if w_hr is not None else None  # o ⊙ tanh(c) before the projection
    Y = x.new_empty(T, B, w_hh.shape[1])  # outputs (T, B, P)
    S = Y if mask is None else x.new_empty(T, B, w_hh.shape[1])  # hidden state after each step
    h, c = _recurrence(G, C, TC, R, Y, S, h0, c0, step_gemm, w_hr, reverse, mask, hmask)
    return [Y, h.clone(), c.clone(), G, C, TC, x.new_empty(0) if R is None else R,
            x.new_empty(0) if mask is None else S]  # outputs may not alias each other: two empties


def backward(grads: list[Tensor], saved: list[Optional[Tensor]], needs: list[bool],
             flags: list[bool]) -> list[Tensor]:
    """The gradients of forward's tensor arguments (empty where not needed or absent); see
    `ops.register_kernel` for the arguments."""
    x, h0, c0, w_ih, w_hh, b_ih, _, w_hr, mask, hmask, Y, _, _, G, C, TC, R, S = saved
    reverse, = flags
    dY, dh_n, dc_n = grads
    S, R = (Y if mask is None else S), (R if w_hr is not None else None)
    dh, dc = dh_n.contiguous().clone(), dc_n.contiguous().clone()
    K, L, M, Fg = _gate_factors(G, TC, C, c0, reverse)
    W_ih, W_hh = gates.to_internal(w_ih), gates.to_internal(w_hh)
    dG = torch.empty_like(G)  # (T, B, 4H) pre-activation gradients, internal order
    DH = torch.empty_like(S) if R is not None else None  # dh_t, for dW_hr
    step_gemm = _gemm(W_hh.t(), dY.shape[1], _ONEDNN_MIN_BACKWARD)  # dG_t W_hh (+ dY_t)
    dh, dc = _backward_recurrence(dG, dY.contiguous(), dh, dc, K, L, M, Fg, DH, step_gemm, w_hr, reverse,
                                  mask, hmask)
    dx, dw_ih, dw_hh, db, dw_hr = _weight_grads(needs, b_ih is not None, x, h0, S, R, DH, dG, W_ih, hmask,
                                                reverse)
    return [x.new_empty(0) if g is None else g for g in
            (dx, dh, dc, dw_ih, dw_hh, db, None if db is None else db.clone(), dw_hr, None, None)]


def _forward_fake(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mask, hmask, reverse):
    T, B, _ = x.shape
    H, P = w_hh.shape[0] // 4, w_hh.shape[1]
    return [x.new_empty(T, B, P), x.new_empty(B, P), x.new_empty(B, H), x.new_empty(T, B, 4 * H),
            x.new_empty(T, B, H), x.new_empty(T, B, H), x.new_empty((T, B, H) if w_hr is not None else 0),
            x.new_empty((T, B, P) if mask is not None else 0)]


def _backward_fake(grads, saved, needs, flags):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = saved[:8]
    wanted = (needs[0], True, True, needs[3], needs[4], b_ih is not None, b_hh is not None,
              w_hr is not None and needs[7], False, False)
    return [t.new_empty(t.shape) if want else x.new_empty(0)
            for t, want in zip((x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, x, x), wanted)]


_op = ops.register_kernel("fused_lstm", forward, backward, _forward_fake, _backward_fake, num_outputs=3)


def _recurrence(G, C, TC, R, Y, S, h, c, step_gemm, w_hr, reverse, mask, hmask):
    """The forward time loop, in place into the (T, ...) buffers; returns the final (h, c).

    Per-step views are made once (`unbind`) rather than indexed in the loop: at small sizes the
    loop is bound by per-call overhead.
    """
    T, B, H = C.shape
    Gs, sig, tanh_g = G.unbind(0), G[:, :, :3 * H].unbind(0), G[:, :, 3 * H:].unbind(0)
    O, I, Fg = (G[:, :, k * H:(k + 1) * H].unbind(0) for k in range(3))
    Cs, TCs, Ys, Ss = C.unbind(0), TC.unbind(0), Y.unbind(0), S.unbind(0)
    Rs = Ys if R is None else R.unbind(0)
    masks = None if mask is None else mask[:, :, None].unbind(0)  # (B, 1) each
    W_hrT = None if w_hr is None else w_hr.t()
    for t in _steps(T, reverse):
        step_gemm(Gs[t], h if hmask is None else h * hmask)
        sig[t].sigmoid_()
        tanh_g[t].tanh_()
        c_t = Cs[t]
        torch.mul(Fg[t], c, out=c_t)
        c_t.addcmul_(I[t], tanh_g[t])
        torch.tanh(c_t, out=TCs[t])
        torch.mul(O[t], TCs[t], out=Rs[t])
        if W_hrT is not None:
            torch.mm(Rs[t], W_hrT, out=Ys[t])
        if masks is not None:
            m = masks[t]
            torch.where(m, Ys[t], h, out=Ss[t])
            torch.where(m, c_t, c, out=c_t)
            Ys[t].mul_(m)
        h, c = Ss[t], c_t
    return h, c


def _backward_recurrence(dG, dY, dh, dc, K, L, M, Fg, DH, step_gemm, w_hr, reverse, mask, hmask):
    """The backward time loop: fills dG (and DH); returns (dh_0, dc_0), the gradients of h0 and c0."""
    T, B, H = K.shape
    steps = list(_steps(T, reverse))
    dGs, dGo, dGifg = dG.unbind(0), dG[:, :, :H].unbind(0), dG.view(T, B, 4, H)[:, :, 1:].unbind(0)
    Ks, Ls, Ms, Fs, dYs = K.unbind(0), L.unbind(0), M.unbind(0), Fg.unbind(0), dY.unbind(0)
    masks = None if mask is None else mask[:, :, None].to(dY.dtype).unbind(0)  # (B, 1) each
    if mask is None:
        dh = dh + dYs[steps[-1]]
    for k, t in enumerate(reversed(steps)):
        if masks is not None:
            m = masks[t]
            dh_state, dc_state = dh, dc
            dh = (dh + dYs[t]) * m
            dc = dc * m
        if DH is not None:
            DH[t] = dh
        dr = dh if w_hr is None else dh @ w_hr  # (B, H)
        torch.mul(dr, Ls[t], out=dGo[t])
        dc.addcmul_(dr, Ks[t])
        torch.mul(dc[:, None], Ms[t], out=dGifg[t])
        dc.mul_(Fs[t])
        last = k == T - 1
        if masks is None and hmask is None and not last:
            dh = step_gemm(dGs[t], dYs[steps[-2 - k]])  # (B, P)
            continue
        dh = step_gemm(dGs[t])
        if hmask is not None:
            dh.mul_(hmask)
        if masks is not None:
            dh.addcmul_(dh_state, 1 - m)
            dc.addcmul_(dc_state, 1 - m)
        elif not last:
            dh += dYs[steps[-2 - k]]
    return dh, dc


# oneDNN's matmul with a weight packed once per call beats MKL's GEMM on the recurrent step shapes
# from about these sizes (B * out * in) on; below them its per-call cost dominates. Measured with
# torch 2.13 on a 2-core x86 machine: backward (B, 4H) @ (4H, P) at B=64, H=P=256: 197 us vs 672 us;
# forward (B, P) @ (P, 4H) only gains at H=1024 (5.9 ms vs 8.0 ms) and loses at H=256.
_ONEDNN_MIN_BACKWARD = 1 << 21
_ONEDNN_MIN_FORWARD = 1 << 26


def _onednn_linear():
    """oneDNN's packed linear ops, or None. They are private: guarded, with torch.mm as the fallback."""
    try:
        ops = torch.ops.mkldnn
        return ops._linear_pointwise, ops._reorder_linear_weight
    except (AttributeError, RuntimeError):
        return None


_ONEDNN = _onednn_linear() if torch.backends.mkldnn.is_available() else None


def _use_onednn(weight, batch, min_size):
    return (_ONEDNN is not None and weight.device.type == "cpu" and weight.dtype == torch.float32
            and batch * weight.numel() >= min_size)


def _gemm(weight, batch, min_size):
    """weight (out, in) -> f(x (B, in), add=None) = x weight^T (+ add), a new (B, out) tensor."""
    if _use_onednn(weight, batch, min_size):
        linear, pack = _ONEDNN
        packed = pack(weight.contiguous(), batch)

        def f(x, add=None):
            y = linear(x, packed, None, "none", [], "")
            return y if add is None else y.add_(add)
        return f
    wt = weight.t()
    return lambda x, add=None: x @ wt if add is None else torch.addmm(add, x, wt)


def _accumulating_gemm(weight, batch, min_size):
    """weight (out, in) -> f(acc (B, out), x (B, in)) that adds x weight^T into acc in place."""
    if _use_onednn(weight, batch, min_size):
        product = _gemm(weight, batch, min_size)
        return lambda acc, x: acc.add_(product(x))
    wt = weight.t().contiguous()  # transposed once per call, not per step
    return lambda acc, x: acc.addmm_(x, wt)


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _recurrent_weight_grad(dG, S, h0, hmask, reverse):
    """Σ_t dG_t^T h_{t-1}: one GEMM over the steps that follow another, plus the first step's h0."""
    T, B, H4 = dG.shape
    first, rest, prev = (T - 1, slice(0, -1), slice(1, None)) if reverse else (0, slice(1, None), slice(0, -1))
    h_prev, h_first = S[prev], h0
    if hmask is not None:
        h_prev, h_first = h_prev * hmask, h0 * hmask
    dw = dG[rest].reshape(-1, H4).t() @ h_prev.reshape((T - 1) * B, h0.shape[-1])  # (4H, P); T=1: zeros
    return dw.addmm_(dG[first].t(), h_first)


def _gate_factors(G, TC, C, c0, reverse):
    """The factors of the gate derivatives that do not depend on the gradient, for all steps.

    Returns K, L (T, B, H), M (T, B, 3, H) as in the module docstring, and the forget gate F.
    """
    T, B, H = TC.shape
    O, I, Fg, Gc = (G[:, :, k * H:(k + 1) * H] for k in range(4))
    L = torch.mul(TC, O)
    K = torch.addcmul(O, L, TC, value=-1)  # o - o τ² = o (1 - τ²)
    L.addcmul_(L, O, value=-1)  # τ o - τ o² = τ o (1 - o)
    M = G.new_empty(T, B, 3, H)
    torch.mul(Gc, I, out=M[:, :, 0])
    M[:, :, 0].addcmul_(M[:, :, 0], I, value=-1)  # g i (1 - i)
    f1f = torch.addcmul(Fg, Fg, Fg, value=-1)  # f (1 - f)
    # c_p: the cell state each step started from, one step back in processing order.
    prev, first, rest = (slice(1, None), T - 1, slice(0, -1)) if reverse else (slice(0, -1), 0, slice(1, None))
    torch.mul(C[prev], f1f[rest], out=M[rest, :, 1])
    torch.mul(c0, f1f[first], out=M[first, :, 1])
    torch.addcmul(I, I, Gc * Gc, value=-1, out=M[:, :, 2])  # i (1 - g²)
    return K, L, M, Fg


def _weight_grads(needs, has_bias, x, h0, S, R, DH, dG, W_ih, hmask, reverse):
    """dx and every weight gradient, one GEMM each over all steps; returned in public gate order."""
    T, B, H4 = dG.shape
    dG2 = dG.view(T * B, H4)
    dx = (dG2 @ W_ih).view(x.shape) if needs[0] else None
    dw_ih = gates.from_internal(dG2.t() @ x.reshape(T * B, -1)) if needs[3] else None
    dw_hh = gates.from_internal(_recurrent_weight_grad(dG, S, h0, hmask, reverse)) if needs[4] else None
    db = gates.from_internal(dG2.sum(0)) if has_bias else None
    dw_hr = DH.reshape(T * B, -1).t() @ R.reshape(T * B, -1) if R is not None and needs[7] else None
    return dx, dw_ih, dw_hh, db, dw_hr
