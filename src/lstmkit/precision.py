"""Training precision: "fp32", or "bf16" — mixed bfloat16 with float32 master weights.

`bf16` runs the forward pass and the loss under `torch.autocast(device, dtype=torch.bfloat16)`: matrix
products in bfloat16 (float32 accumulation), reductions, softmax and losses in float32 (autocast's own
lists), and the LSTM kernels' gate math and cell state in float32 (`lstmkit.kernels.mixed`). The
parameters, their gradients and the optimizer state stay float32, and backward runs outside autocast.
No loss scaling: bfloat16 keeps float32's exponent range, so small gradients do not underflow the way
they do in float16 (which lstmkit does not offer for training).

Keras' spelling works too: `lstmkit.mixed_precision.set_global_policy("mixed_bfloat16")` makes "bf16"
the default of every later `fit`, `evaluate` and `predict` (and "float32" sets it back).
"""
import contextlib

import torch

from .errors import LstmkitError

PRECISIONS = ("fp32", "bf16")
_KERAS_POLICIES = {"float32": "fp32", "mixed_bfloat16": "bf16", "fp32": "fp32", "bf16": "bf16"}
_global = {"precision": "fp32"}


def check(precision, name="precision") -> str:
    """`precision` as "fp32" or "bf16" (Keras' "float32" / "mixed_bfloat16" accepted).

    Raises:
        LstmkitError: anything else, "mixed_float16" included (float16 training needs loss scaling).
    """
    found = _KERAS_POLICIES.get(precision) if isinstance(precision, str) else None
    if found is None:
        hint = " (float16 needs loss scaling; bf16 does not)" if precision in ("fp16", "mixed_float16") else ""
        raise LstmkitError(f"{name}: expected one of {', '.join(PRECISIONS)} (or Keras' 'float32', "
                           f"'mixed_bfloat16'), got {precision!r}{hint}")
    return found


def autocast(precision, device):
    """The context to run a forward pass and its loss in: autocast to bfloat16 for "bf16" on the CPU or
    a GPU, nothing for "fp32".

    Args:
        precision: "fp32" or "bf16" (checked with `check`).
        device: where the model's parameters are (a torch.device or string).

    Example:
        >>> import torch
        >>> with autocast("bf16", "cpu"):
        ...     y = torch.nn.Linear(4, 2)(torch.randn(3, 4))
        >>> y.dtype
        torch.bfloat16
    """
    if check(precision) == "fp32":
        return contextlib.nullcontext()
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise LstmkitError(f"precision: bf16 runs on the CPU or a CUDA GPU, got a model on {kind}")
    return torch.autocast(kind, dtype=torch.bfloat16)


def set_global_policy(policy) -> None:
    """Keras' `mixed_precision.set_global_policy`: "mixed_bfloat16" or "float32" (or "bf16", "fp32")."""
    _global["precision"] = check(policy, "policy")


def global_policy() -> str:
    """The precision `fit`, `evaluate` and `predict` use when none is given: "fp32" or "bf16"."""
    return _global["precision"]
