"""Kernels under `torch.autocast`: bfloat16 matrix products, gate math and cell state in float32.

Custom kernels are not autocast-aware, and torch's own LSTM op under autocast casts the cell state to
bfloat16 too, so its long-range memory stalls (a cell that adds 0.01 per step stops at 4.0, where
bfloat16's spacing is 0.03). `run` is what the recurrent modules call instead of `kernel.run`:

- outside autocast, or for float64 parameters, it is `kernel.run` unchanged;
- for the plain LSTM on torch's op (the `native` kernel, no projection, no packing) it runs oneDNN's
  LSTM layer with bfloat16 inputs, weights and h, but a float32 c: the GEMMs run in bfloat16 with
  float32 accumulation, the gates and c in float32 (`native.run_mixed`);
- for every other kernel and configuration it runs the kernel in float32 with autocast off (x and the
  state cast up), so the result is the float32 one; the model's other layers still run in bfloat16.

The parameters stay float32 (master weights): gradients flow back through the casts in float32.
bfloat16 has float32's exponent range, so no loss scaling is needed (float16 would need it).
"""
import torch

from . import native

name = "mixed"


def autocast_dtype(device):
    """The lower-precision dtype of an enclosing torch.autocast on `device`, or None."""
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda") or not torch.is_autocast_enabled(kind):
        return None
    return torch.get_autocast_dtype(kind)


def run(kernel, x, hx, weights, config, training, mask=None, lengths=None):
    """`kernel.run(...)` with the autocast rules above; same arguments and result (see `lstmkit.kernels`).

    Example:
        >>> from lstmkit import nn
        >>> lstm = nn.LSTM(8, 16)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     y, (h, c) = lstm(torch.randn(5, 2, 8))
        >>> y.dtype, c.dtype
        (torch.bfloat16, torch.float32)
    """
    dtype = autocast_dtype(x.device)
    if dtype is None or config.dtype == torch.float64:
        return kernel.run(x, hx, weights, config, training, mask=mask, lengths=lengths)
    with torch.autocast(x.device.type, enabled=False):
        if kernel is native and lengths is None and native.mixed_unsupported(config, x.device) is None:
            return native.run_mixed(x, hx, weights, config, training, dtype)
        up = config.dtype
        hx = tuple(s.to(up) for s in hx) if isinstance(hx, (tuple, list)) else hx.to(up)
        return kernel.run(x.to(up), hx, weights, config, training, mask=mask, lengths=lengths)
