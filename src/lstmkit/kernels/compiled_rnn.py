"""The compiled kernel's GRU and simple RNN: `fused_gru`'s and `fused_rnn`'s math, the whole time loop
in one native call per layer and direction (`csrc/single_state.cpp`, built into the same library as
the LSTM's `csrc/lstm.cpp`; see `kernels.compiled`).

Per step one BLAS GEMM (the reset-before GRU: two, the second waits for r) and one loop of pointwise
math; backward the same, with dx and the weight gradients one GEMM each over all steps. Both GRU
forms (torch's reset-after, Keras' reset_after=False), tanh and relu, layers, both directions, masks,
recurrent dropout, h0, float32 and float64 run; the stack is `single_state.run_h_stack`.

Example:
    >>> import torch, lstmkit
    >>> gru = lstmkit.nn.GRU(1, 50, engine="compiled")
    >>> tuple(gru(torch.randn(50, 32, 1))[0].shape)
    (50, 32, 50)
"""
import torch

from .single_state import run_h_stack
from .stack import first_order

CELLS = ("gru", "rnn_tanh", "rnn_relu")


def unsupported(config):
    """Why the compiled kernel cannot run this single-state `config` (beyond what `compiled` checks), or None."""
    if torch.jit.is_tracing():
        return "under torch.jit.trace it gives way to torch's op or the reference loop (an autograd Function)"
    return None


def run(ops, x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract (single-state cells: hx is h0, returns (y, h_n)).

    Args:
        ops: the loaded `torch.ops.lstmkit_compiled` namespace.
    """
    if config.cell == "gru":
        flag, fwd, fn = config.reset_after, ops.gru_forward, _CompiledGRU
    else:
        flag, fwd, fn = config.cell == "rnn_relu", ops.rnn_forward, _CompiledRNN

    def layer(x, h0, w, reverse, mask, hmask):
        args = (x, h0, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, flag, reverse, mask, hmask)
        if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            return fn.apply(ops, *args)
        return tuple(fwd(*args)[:2])  # inference: no autograd node
    return run_h_stack(layer, x, hx, weights, config, training, mask, lengths)


class _CompiledGRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ops, x, h0, w_ih, w_hh, b_ih, b_hh, reset_after, reverse, mask, hmask):
        Y, h, G, A, S = ops.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reset_after, reverse, mask, hmask)
        ctx.ops, ctx.flags, ctx.has_bias = ops, (reset_after, reverse), b_ih is not None
        ctx.save_for_backward(x, h0, w_ih, w_hh, G, A, S, mask, hmask)
        return Y, h

    @staticmethod
    @first_order
    def backward(ctx, dY, dh_n):
        x, h0, w_ih, w_hh, G, A, S, mask, hmask = ctx.saved_tensors
        dY = torch.zeros_like(S) if dY is None else dY
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        dx, dh0, dw_ih, dw_hh, db_ih, db_hh = ctx.ops.gru_backward(dY, dh_n, x, h0, w_ih, w_hh, G, A, S,
                                                                   *ctx.flags, mask, hmask, ctx.has_bias)
        biases = (db_ih, db_hh) if ctx.has_bias else (None, None)
        return None, dx, dh0, dw_ih, dw_hh, *biases, None, None, None, None


class _CompiledRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ops, x, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse, mask, hmask):
        Y, h, G, S = ops.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, relu, reverse, mask, hmask)
        ctx.ops, ctx.flags, ctx.has_bias = ops, (relu, reverse), b_ih is not None
        ctx.save_for_backward(x, h0, w_ih, w_hh, G, S, mask, hmask)
        return Y, h

    @staticmethod
    @first_order
    def backward(ctx, dY, dh_n):
        x, h0, w_ih, w_hh, G, S, mask, hmask = ctx.saved_tensors
        dY = torch.zeros_like(S) if dY is None else dY
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        dx, dh0, dw_ih, dw_hh, db = ctx.ops.rnn_backward(dY, dh_n, x, h0, w_ih, w_hh, G, S, *ctx.flags, mask,
                                                         hmask, ctx.has_bias)
        db = db if ctx.has_bias else None
        return None, dx, dh0, dw_ih, dw_hh, db, db, None, None, None, None
