"""lstmkit's kernels as `torch.library` custom ops, so the PyTorch toolchain sees one opaque op per layer.

torch.compile, torch.export and AOT autograd cannot trace into a Python time loop without unrolling it
for one fixed length, and torch's own LSTM op lowers under them to `aten.mkldnn_rnn_layer`, whose fake
kernel disagrees with the real op on the CPU (the compiled graph then fails with "expected Tensor() for
op: torch.ops.aten.mkldnn_rnn_layer.default"; torch.compile only avoids it for torch.nn.LSTM by not
tracing that module at all). A custom op with a fake (shape-only) implementation and an autograd
formula is traced as one node with symbolic batch and time sizes, compiles in seconds and trains.

Registering a kernel (what `fused.py` does; a new cell's kernel does the same in its own file):

    _op = ops.register_kernel("fused_gru", forward, backward, forward_fake, backward_fake, num_outputs=2)
    y, h, *_ = _op(x, h0, w_ih, w_hh, b_ih, b_hh, mask, reverse)

- forward(*args) -> list[Tensor]: args annotated as Tensor, Optional[Tensor] or bool (torch infers the
  op's schema from the annotations). It returns the `num_outputs` outputs followed by the residuals
  the backward needs; every returned tensor is new (no view of an input or of another output) and
  contiguous, an absent residual is an empty tensor.
- backward(grads, saved, needs, flags) -> list[Tensor]: `grads` the gradients of the outputs (zeros
  where an output was not used); `saved` the tensor args (None where absent), then every tensor
  forward returned; `needs` whether each tensor arg needs a gradient; `flags` the bool args. It
  returns one contiguous tensor per tensor arg, an empty one where none is needed.
- forward_fake / backward_fake: the same signatures, returning `new_empty` tensors of the shapes the
  real functions return (torch checks them against the real outputs in compiled graphs).
"""
import dataclasses
import inspect
from typing import Optional, get_type_hints

import torch
from torch import Tensor

NAMESPACE = "lstmkit"


def capture() -> str:
    """How the running code is being captured: "onnx" (either ONNX exporter), "compile" (torch.compile
    or torch.export) or "" (eager; torch.jit.trace records eager ops)."""
    if not (torch.compiler.is_compiling() or torch.jit.is_tracing()):
        return ""  # eager: the common case, decided without the ONNX flag's lookups (about 9 us)
    if torch.onnx.is_in_onnx_export():
        return "onnx"
    if torch.compiler.is_compiling():
        return "compile"
    return ""


def captured(config):
    """`config` (a kernels.KernelConfig) with `capture` set for the running capture.

    Under torch.compile and torch.export `training` also becomes true for any grad-enabled call: the
    graph's backward is fixed when it is traced, so such a call may be trained whatever the module's mode.
    """
    mode = capture()
    if not mode:
        # A jit trace is replayed on other shapes: choose the kernel without the traced batch size.
        return dataclasses.replace(config, batch=0) if torch.jit.is_tracing() else config
    training = config.training or (mode == "compile" and torch.is_grad_enabled())
    # The batch is symbolic in a captured graph; choosing by it would specialise the graph to one size.
    return dataclasses.replace(config, capture=mode, training=training, batch=0)


def register_kernel(name, forward, backward, forward_fake, backward_fake, *, num_outputs):
    """Register `forward` and `backward` as the custom ops lstmkit::<name> and lstmkit::<name>_backward.

    Args:
        name: the op's name in the `lstmkit` namespace.
        forward, backward, forward_fake, backward_fake: as described in this module's docstring.
        num_outputs: how many of forward's returned tensors are outputs; the rest are residuals.

    Returns:
        A function taking forward's arguments and returning forward's list, differentiable through
        `backward`: the custom op (its `.op`) while torch.compile, torch.export or torch.jit.trace
        capture the code, the same functions through an autograd.Function in eager mode.

    Example:
        >>> from lstmkit.kernels import fused
        >>> fused._op.op._qualname
        'lstmkit::fused_lstm'
    """
    forward_op = torch.library.custom_op(f"{NAMESPACE}::{name}", forward, mutates_args=())
    forward_op.register_fake(forward_fake)
    backward_op = torch.library.custom_op(f"{NAMESPACE}::{name}_backward", backward, mutates_args=())
    backward_op.register_fake(backward_fake)
    hints = get_type_hints(forward)
    params = list(inspect.signature(forward).parameters)
    tensor_args = [i for i, p in enumerate(params) if hints[p] in (Tensor, Optional[Tensor])]
    bool_args = [i for i, p in enumerate(params) if hints[p] is bool]

    def save(ctx, inputs, output):
        ctx.save_for_backward(*(inputs[i] for i in tensor_args), *output)
        ctx.flags = [inputs[i] for i in bool_args]

    def gradients(ctx, grads):
        saved = list(ctx.saved_tensors)
        outputs = saved[len(tensor_args):len(tensor_args) + num_outputs]
        # Unused outputs arrive as None; the backward op takes tensors.
        grads = [torch.zeros_like(o) if g is None else g for g, o in zip(grads[:num_outputs], outputs)]
        needs = [ctx.needs_input_grad[i] for i in tensor_args]
        per_arg = [None] * len(params)
        for i, need, g in zip(tensor_args, needs, backward_op(grads, saved, needs, ctx.flags)):
            per_arg[i] = g if need else None
        return tuple(per_arg)

    forward_op.register_autograd(lambda ctx, grads: gradients(ctx, grads), setup_context=save)
    eager = type(f"_{name}", (torch.autograd.Function,), {
        "forward": staticmethod(lambda ctx, *args: _eager_forward(ctx, forward, save, num_outputs, args)),
        "backward": staticmethod(torch.autograd.function.once_differentiable(
            lambda ctx, *grads: gradients(ctx, grads))),
    })

    def call(*args):
        # The op's Python dispatch (schema checks, a dispatcher round trip, the autograd bridge) adds a
        # per-call cost that shows at small shapes: eager mode runs the same functions through an
        # autograd.Function.
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return forward_op(*args)
        return list(eager.apply(*args))

    call.op = forward_op
    return call


def _eager_forward(ctx, forward, save, num_outputs, args):
    out = forward(*args)
    save(ctx, args, out)
    ctx.mark_non_differentiable(*out[num_outputs:])
    return tuple(out)


@torch.library.custom_op(f"{NAMESPACE}::native_lstm", mutates_args=())
def native_lstm(x: Tensor, h0: Tensor, c0: Tensor, weights: list[Tensor], bias: bool, num_layers: int,
                bidirectional: bool) -> list[Tensor]:
    """torch's LSTM op for inference as one opaque op: [y (T, B, D*P), h_n (L*D, B, P), c_n (L*D, B, H)].

    It has no autograd formula, so `kernels.native` runs it only where no gradient is taken; under
    torch.compile torch's op would otherwise be lowered to aten.mkldnn_rnn_layer (see above).
    """
    y, h, c = torch.lstm(x, (h0, c0), weights, bias, num_layers, 0.0, False, bidirectional, False)
    return [y, h, c]


@native_lstm.register_fake
def _native_lstm_fake(x, h0, c0, weights, bias, num_layers, bidirectional):
    T, B, _ = x.shape
    return [x.new_empty(T, B, h0.shape[2] * (2 if bidirectional else 1)), h0.new_empty(h0.shape),
            c0.new_empty(c0.shape)]
