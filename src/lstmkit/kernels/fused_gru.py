"""lstmkit's fast GRU kernel: the `cells.gru` math (both forms) with a hand-written backward pass (BPTT).

Forward: the input projection of all T steps is one GEMM into a (T, B, 3H) buffer G (gates r, z, n, the
public order: one sigmoid covers r and z). Per step, reset after (torch's form): one GEMM adds
h_{t-1} W_hh^T into a (T, B, 3H) buffer A that starts as b_hh; r, z and then n are activated in place
in G, and h_t = lerp(n, h_{t-1}, z). Reset before (Keras' reset_after=False): one GEMM for r, z and a
second for W_hn (r ⊙ h_{t-1}), which must wait for r.

Backward, with P = (1-z)(1-n²), Q = (h_{t-1} - n) z(1-z), hn = W_hn h_{t-1} + b_hn and dh the gradient
reaching h_t, every factor computed for all steps before the loop:
    reset after:  d(n_pre) = dh P, d(z_pre) = dh Q, d(r_pre) = dh P hn r(1-r), d(hn) = dh P r,
                  dh_{t-1} = dh z + [d(r_pre), d(z_pre), d(hn)] W_hh
    reset before: d(n_pre) = dh P, d(z_pre) = dh Q, d(rh) = d(n_pre) W_hn, d(r_pre) = d(rh) h_{t-1} r(1-r),
                  dh_{t-1} = dh z + d(rh) r + [d(r_pre), d(z_pre)] W_hr,z
(the products with h_{t-1} use h_{t-1} ⊙ m under recurrent dropout). dW_ih, dW_hh, the biases and dx
are then one GEMM (or sum) each over all steps.
"""
import torch

from .fused import (_ONEDNN_MIN_BACKWARD, _ONEDNN_MIN_FORWARD, _accumulating_gemm, _gemm,
                    _recurrent_weight_grad, _steps)
from .single_state import backward_loop, run_h_stack


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract (single-state cells: hx is h0, returns (y, h_n))."""
    fn = _ResetAfter if config.reset_after else _ResetBefore

    def layer(x, h0, w, reverse, mask, hmask):
        return fn.apply(x, h0, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, reverse, mask, hmask)
    return run_h_stack(layer, x, hx, weights, config, training, mask, lengths)


def _input_gemm(x, w_ih, bias):
    """W_ih x_t + bias for all steps: (T, B, I) -> (T, B, 3H), one GEMM."""
    T, B, _ = x.shape
    x2 = x.reshape(T * B, -1)
    out = torch.mm(x2, w_ih.t()) if bias is None else torch.addmm(bias, x2, w_ih.t())
    return out.view(T, B, -1)


def _views(G, H):
    """Per-step views of G (T, B, 3H): (r and z together, r, z, n), each a tuple over T."""
    return (G[:, :, :2 * H].unbind(0), G[:, :, :H].unbind(0), G[:, :, H:2 * H].unbind(0),
            G[:, :, 2 * H:].unbind(0))


def _new_state(n, h, z, y, s, m):
    """h_t = (1-z) n + z h_{t-1} into s (and y); a masked step keeps h and outputs zeros."""
    if m is None:
        torch.lerp(n, h, z, out=s)
        return
    torch.lerp(n, h, z, out=y)
    torch.where(m, y, h, out=s)
    y.mul_(m)


def _outputs(x, mask, H):
    T, B, _ = x.shape
    S = x.new_empty(T, B, H)  # state after each step
    return S, (S if mask is None else x.new_empty(T, B, H))


def _grads_tail(ctx, x, w_ih, blocks):
    """dx, dW_ih and db_ih from the input projection's gradient, given as (gradient (T, B, k), the
    matching rows of W_ih) blocks in gate order: views of a larger buffer, so no copy is made."""
    T, B = x.shape[:2]
    x2 = x.reshape(T * B, -1)
    blocks = [(g.reshape(T * B, -1), w_ih[rows]) for g, rows in blocks]
    needs = ctx.needs_input_grad
    dx = None
    if needs[0]:
        dx = blocks[0][0] @ blocks[0][1]
        for g, w in blocks[1:]:
            dx.addmm_(g, w)
        dx = dx.view_as(x)
    dw_ih = torch.cat([g.t() @ x2 for g, _ in blocks]) if needs[2] else None
    db_ih = torch.cat([g.sum(0) for g, _ in blocks]) if ctx.has_bias else None
    return dx, dw_ih, db_ih


def _previous_states(S, h0, reverse):
    """h_{t-1} of every step in processing order: (T, B, H)."""
    return torch.cat([S[1:], h0[None]]) if reverse else torch.cat([h0[None], S[:-1]])


class _ResetAfter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, mask, hmask):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        G = _input_gemm(x, w_ih, b_ih)  # (T, B, 3H): r, z, n after the loop
        A = (b_hh.expand(T, B, 3 * H).clone() if b_hh is not None
             else x.new_zeros(T, B, 3 * H))  # h_{t-1} W_hh^T + b_hh
        S, Y = _outputs(x, mask, H)
        step_gemm = _accumulating_gemm(w_hh, B, _ONEDNN_MIN_FORWARD)
        RZ, R, Z, N = _views(G, H)
        As, ARZ, AN = A.unbind(0), A[:, :, :2 * H].unbind(0), A[:, :, 2 * H:].unbind(0)
        Ss, Ys = S.unbind(0), Y.unbind(0)
        masks = None if mask is None else mask[:, :, None].unbind(0)
        h = h0
        for t in _steps(T, reverse):
            step_gemm(As[t], h if hmask is None else h * hmask)
            RZ[t].add_(ARZ[t]).sigmoid_()
            N[t].addcmul_(R[t], AN[t]).tanh_()
            _new_state(N[t], h, Z[t], Ys[t], Ss[t], None if masks is None else masks[t])
            h = Ss[t]
        ctx.reverse, ctx.has_bias = reverse, b_ih is not None
        ctx.save_for_backward(x, h0, w_ih, w_hh, G, A, S, mask, hmask)
        return Y, h.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dh_n):
        x, h0, w_ih, w_hh, G, A, S, mask, hmask = ctx.saved_tensors
        T, B, H = S.shape
        dY = torch.zeros_like(S) if dY is None else dY.contiguous()
        dh = torch.zeros_like(h0) if dh_n is None else dh_n
        z = G[:, :, H:2 * H]
        F = _reset_after_factors(G, A, S, h0, ctx.reverse)
        D = G.new_empty(T, B, 4 * H)  # (T, B, 4H): d(r_pre), d(z_pre), d(hn), d(n_pre)
        Fs, D4, DA, Zs = F.unbind(0), D.view(T, B, 4, H).unbind(0), D[:, :, :3 * H].unbind(0), z.unbind(0)
        step_gemm = _gemm(w_hh.t(), B, _ONEDNN_MIN_BACKWARD)  # [d(r_pre), d(z_pre), d(hn)] W_hh

        def cell_backward(t, dh):
            torch.mul(dh[:, None], Fs[t], out=D4[t])
            g = step_gemm(DA[t])
            if hmask is not None:
                g.mul_(hmask)
            return g.addcmul_(dh, Zs[t])
        dh = backward_loop(cell_backward, dY, dh, ctx.reverse, mask)
        dA = D[:, :, :3 * H]  # gradient of h_{t-1} W_hh^T + b_hh; a view, its rows 4H apart
        dw_hh = _recurrent_weight_grad(dA, S, h0, hmask, ctx.reverse) if ctx.needs_input_grad[3] else None
        db_hh = dA.sum((0, 1)) if ctx.has_bias else None
        # The input projection's gradient is D without the d(hn) block: two GEMMs rather than a copy.
        dx, dw_ih, db_ih = _grads_tail(ctx, x, w_ih, [(D[:, :, :2 * H], slice(0, 2 * H)),
                                                      (D[:, :, 3 * H:], slice(2 * H, 3 * H))])
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh, None, None, None


def _reset_after_factors(G, A, S, h0, reverse):
    """The factors of d(r_pre), d(z_pre), d(hn), d(n_pre) that do not depend on dh, for all steps:
    (P hn r(1-r), Q, P r, P) as (T, B, 4, H), with P, Q as in the module docstring."""
    T, B, H = S.shape
    r, z, n, hn = G[:, :, :H], G[:, :, H:2 * H], G[:, :, 2 * H:], A[:, :, 2 * H:]
    F = G.new_empty(T, B, 4, H)
    P = torch.mul(n, n, out=F[:, :, 3]).sub_(1).mul_(z - 1)  # (n² - 1)(z - 1) = (1 - z)(1 - n²)
    torch.mul(P, r, out=F[:, :, 2])
    torch.mul(F[:, :, 2], hn, out=F[:, :, 0]).addcmul_(F[:, :, 0], r, value=-1)  # P r hn (1 - r)
    _previous_minus(S, h0, n, reverse, out=F[:, :, 1]).mul_(torch.addcmul(z, z, z, value=-1))  # · z (1 - z)
    return F


def _previous_minus(S, h0, n, reverse, out):
    """h_{t-1} - n_t for every step (h_{t-1} one step back in processing order), into out (T, B, H)."""
    prev, first, rest = (slice(1, None), -1, slice(0, -1)) if reverse else (slice(0, -1), 0, slice(1, None))
    torch.sub(S[prev], n[rest], out=out[rest])
    torch.sub(h0, n[first], out=out[first])
    return out


class _ResetBefore(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, mask, hmask):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        G = _input_gemm(x, w_ih, None if b_ih is None else b_ih + b_hh)  # b_hn adds outside r here
        RH = x.new_empty(T, B, H)  # r ⊙ h_{t-1}, for dW_hn
        S, Y = _outputs(x, mask, H)
        gemm_rz = _accumulating_gemm(w_hh[:2 * H], B, _ONEDNN_MIN_FORWARD)
        gemm_n = _accumulating_gemm(w_hh[2 * H:], B, _ONEDNN_MIN_FORWARD)
        RZ, R, Z, N = _views(G, H)
        RHs, Ss, Ys = RH.unbind(0), S.unbind(0), Y.unbind(0)
        masks = None if mask is None else mask[:, :, None].unbind(0)
        h = h0
        for t in _steps(T, reverse):
            h_in = h if hmask is None else h * hmask
            gemm_rz(RZ[t], h_in)
            RZ[t].sigmoid_()
            gemm_n(N[t], torch.mul(R[t], h_in, out=RHs[t]))
            N[t].tanh_()
            _new_state(N[t], h, Z[t], Ys[t], Ss[t], None if masks is None else masks[t])
            h = Ss[t]
        ctx.reverse, ctx.has_bias = reverse, b_ih is not None
        ctx.save_for_backward(x, h0, w_ih, w_hh, G, RH, S, mask, hmask)
        return Y, h.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dh_n):
        x, h0, w_ih, w_hh, G, RH, S, mask, hmask = ctx.saved_tensors
        T, B, H = S.shape
        dY = torch.zeros_like(S) if dY is None else dY.contiguous()
        dh = torch.zeros_like(h0) if dh_n is None else dh_n
        r, z, n = G[:, :, :H], G[:, :, H:2 * H], G[:, :, 2 * H:]
        h_prev = _previous_states(S, h0, ctx.reverse)
        h_in = h_prev if hmask is None else h_prev * hmask
        P = (1 - z) * (1 - n * n)
        Q = (h_prev - n) * z * (1 - z)
        Rf = h_in * r * (1 - r)
        D = G.new_empty(T, B, 3 * H)  # d(r_pre), d(z_pre), d(n_pre)
        Ps, Qs, Rfs, Rs, Zs = P.unbind(0), Q.unbind(0), Rf.unbind(0), r.unbind(0), z.unbind(0)
        Dr, Dz, Dn = (D[:, :, k * H:(k + 1) * H].unbind(0) for k in range(3))
        Drz = D[:, :, :2 * H].unbind(0)
        gemm_n = _gemm(w_hh[2 * H:].t(), B, _ONEDNN_MIN_BACKWARD)  # d(n_pre) W_hn
        gemm_rz = _gemm(w_hh[:2 * H].t(), B, _ONEDNN_MIN_BACKWARD)  # [d(r_pre), d(z_pre)] W_hr,z

        def cell_backward(t, dh):
            torch.mul(dh, Qs[t], out=Dz[t])
            drh = gemm_n(torch.mul(dh, Ps[t], out=Dn[t]))  # (B, H)
            torch.mul(drh, Rfs[t], out=Dr[t])
            g = gemm_rz(Drz[t]).addcmul_(drh, Rs[t])
            if hmask is not None:
                g.mul_(hmask)
            return g.addcmul_(dh, Zs[t])
        dh = backward_loop(cell_backward, dY, dh, ctx.reverse, mask)
        dw_hh = None
        if ctx.needs_input_grad[3]:
            dw_rz = _recurrent_weight_grad(D[:, :, :2 * H].contiguous(), S, h0, hmask, ctx.reverse)
            dw_n = D[:, :, 2 * H:].reshape(T * B, H).t() @ RH.view(T * B, H)
            dw_hh = torch.cat([dw_rz, dw_n])
        dx, dw_ih, db = _grads_tail(ctx, x, w_ih, [(D, slice(None))])
        return dx, dh, dw_ih, dw_hh, db, db, None, None, None
