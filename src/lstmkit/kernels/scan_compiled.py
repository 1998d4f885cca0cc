"""minLSTM and minGRU on the compiled library: gate math and recurrence in one C++ pass each way.

`csrc/scan.cpp` takes the input projection k = W x_t + b of all steps (one GEMM, here) and runs
h_t = a_t ⊙ h_{t-1} + b_t over time with a_t, b_t computed from k on the fly; backward is the reverse
recurrence dh_{t-1} = a_t ⊙ dh_t, writing dk, after which dW, db and dx are one GEMM (or sum) each
over all steps, by autograd through the projection. Every step is T·B·H lanes of vectorised work
with no (T, B, H) temporaries; the log-space scan (`kernels/scan.py`) makes about twenty passes over
such tensors and runs where the library is not built. The coefficients come from exponentials of
non-positive arguments only, so a_t ∈ [0, 1] and b_t ≥ 0 never overflow and the recurrence stays
bounded: the sequential form, made safe where the ordinary-space formulas would divide 0 by 0.

Example:
    >>> import torch, lstmkit
    >>> m = lstmkit.nn.MinLSTM(4, 8, engine="compiled")
    >>> tuple(m(torch.randn(6, 2, 4))[0].shape)
    (6, 2, 8)
"""
import torch
import torch.nn.functional as F

from . import compiled
from .reference_min import min_unsupported, run_min_stack
from .stack import lengths_to_mask

name = "compiled"


def unsupported(config, device):
    """Why the compiled scan cannot run `config` on `device`, or None."""
    if torch.device(device).type != "cpu":
        return "runs on the CPU only"
    if config.capture:
        return ("has no fake-tensor registration, so torch.compile, torch.export and ONNX run the "
                "log-space scan instead")
    if config.dtype not in (torch.float32, torch.float64):
        return f"dtype {config.dtype} is not supported (float32 and float64 are)"
    return min_unsupported(config) or compiled.load_error()


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `kernels/reference_min.py` for the contract."""
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_min_stack(layer, x, hx, weights, config, training, mask)


def layer(x, h0, w, reverse, mask):
    """One layer and direction: (T, B, I) -> (T, B, H), h_n (B, H)."""
    k = F.linear(x, w.weight_ih, w.bias_ih)  # (T, B, k·H)
    mask = None if mask is None else mask.contiguous()
    y, h_n, _ = scan(k, h0, mask, w.cell == "minlstm", reverse)
    return y, h_n


def scan(k, h0, mask, lstm, reverse):
    """The op `lstmkit_compiled::scan_forward`, differentiable: (y (T, B, H), h_n (B, H), states)."""
    if "scan" not in _registered:
        compiled.load_error()  # builds or loads the library on first use, when no `unsupported` asked yet
        torch.library.register_autograd("lstmkit_compiled::scan_forward", _backward, setup_context=_setup)
        _registered.add("scan")
    return compiled._ops().scan_forward(k, h0, mask, lstm, reverse)


_registered = set()


def _setup(ctx, inputs, output):
    k, h0, mask, lstm, reverse = inputs
    y, _, states = output
    ctx.lstm, ctx.reverse = lstm, reverse
    # without a mask y holds every step's state; with one, masked steps output zeros
    ctx.save_for_backward(k, h0, mask, y if mask is None else states)


def _backward(ctx, grads):
    dy, dh_n, _ = grads
    k, h0, mask, states = ctx.saved_tensors
    dy = torch.zeros_like(states) if dy is None else dy
    dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
    dk, dh0 = compiled._ops().scan_backward(dy, dh_n, k, states, h0, mask, ctx.lstm, ctx.reverse)
    return dk, dh0, None, None, None
