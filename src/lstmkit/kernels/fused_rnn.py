"""lstmkit's fast simple-RNN kernel: the `cells.rnn` math with a hand-written backward pass (BPTT).

Forward: the input projection of all T steps is one GEMM into a (T, B, H) buffer; each step adds
h_{t-1} W_hh^T into its slice in place and applies φ in place, so the buffer ends up holding h_t.

Backward, with a_t = φ'(pre_t) computed for all steps before the loop (1 - h_t² for tanh, [h_t > 0]
for relu) and dh the gradient reaching h_t:
    d(pre_t) = dh ⊙ a_t,   dh_{t-1} = d(pre_t) W_hh (⊙ the recurrent-dropout mask) + dy_{t-1}
dW_ih, dW_hh, the biases and dx are then one GEMM (or sum) each over all steps.
"""
import torch

from .fused import (_ONEDNN_MIN_BACKWARD, _ONEDNN_MIN_FORWARD, _accumulating_gemm, _gemm,
                    _recurrent_weight_grad, _steps)
from .single_state import backward_loop, run_h_stack


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract (single-state cells: hx is h0, returns (y, h_n))."""
    relu = config.cell == "rnn_relu"

    def layer(x, h0, w, reverse, mask, hmask):
        return _FusedRNN.apply(x, h0, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, relu, reverse, mask,
                               hmask)
    return run_h_stack(layer, x, hx, weights, config, training, mask, lengths)


class _FusedRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse, mask, hmask):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        x2 = x.reshape(T * B, -1)
        if b_ih is None:
            G = torch.mm(x2, w_ih.t()).view(T, B, H)
        else:
            G = torch.addmm(b_ih + b_hh, x2, w_ih.t()).view(T, B, H)
        step_gemm = _accumulating_gemm(w_hh, B, _ONEDNN_MIN_FORWARD)
        Y = G if mask is None else x.new_empty(T, B, H)  # outputs; G holds every step's new h
        S = G if mask is None else x.new_empty(T, B, H)  # the state after each step
        Gs, Ys, Ss = G.unbind(0), Y.unbind(0), S.unbind(0)
        masks = None if mask is None else mask[:, :, None].unbind(0)  # (B, 1) each
        activate = torch.Tensor.relu_ if relu else torch.Tensor.tanh_  # φ, in place
        h = h0
        for t in _steps(T, reverse):
            step_gemm(Gs[t], h if hmask is None else h * hmask)
            activate(Gs[t])
            if masks is not None:
                torch.mul(Gs[t], masks[t], out=Ys[t])
                torch.where(masks[t], Gs[t], h, out=Ss[t])
            h = Ss[t]
        ctx.reverse, ctx.relu, ctx.has_bias = reverse, relu, b_ih is not None
        ctx.save_for_backward(x, h0, w_ih, w_hh, G, S, mask, hmask)
        return Y, h.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dh_n):
        x, h0, w_ih, w_hh, G, S, mask, hmask = ctx.saved_tensors
        T, B, H = G.shape
        dY = torch.zeros_like(G) if dY is None else dY.contiguous()
        dh = torch.zeros_like(h0) if dh_n is None else dh_n.clone()
        A = (G > 0).to(G.dtype) if ctx.relu else torch.addcmul(torch.ones_like(G), G, G, value=-1)  # φ'
        dG = torch.empty_like(G)  # (T, B, H) pre-activation gradients
        dGs, As = dG.unbind(0), A.unbind(0)
        step_gemm = _gemm(w_hh.t(), B, _ONEDNN_MIN_BACKWARD)  # dG_t W_hh

        def cell_backward(t, dh):
            g = step_gemm(torch.mul(dh, As[t], out=dGs[t]))
            return g if hmask is None else g.mul_(hmask)
        dh = backward_loop(cell_backward, dY, dh, ctx.reverse, mask)
        needs = ctx.needs_input_grad
        dG2 = dG.view(T * B, H)
        dx = (dG2 @ w_ih).view_as(x) if needs[0] else None
        dw_ih = dG2.t() @ x.reshape(T * B, -1) if needs[2] else None
        dw_hh = _recurrent_weight_grad(dG, S, h0, hmask, ctx.reverse) if needs[3] else None
        db = dG2.sum(0) if ctx.has_bias else None
        return dx, dh, dw_ih, dw_hh, db, db, None, None, None, None
