"""LSTM kernels behind one interface; `select` is the only place that decides which one runs.

Every kernel has `name`, `unsupported(config, device) -> str | None` (why it cannot run a
configuration, or None) and `run(x, hx, weights, config, training, mask=None, lengths=None)`:

    x        (T, B, I) time-major input
    hx       (h0 (L*D, B, P or H), c0 (L*D, B, H))
    weights  one `cells.LayerWeights` per layer and direction, in torch's order (l0, l0_reverse, l1, ...)
    mask     (T, B) bool: False steps change no state and output zeros (any padding, e.g. left)
    lengths  (B,) int64 on the CPU: right-padded sequences, the case PackedSequence describes

and returns (y (T, B, D*P or D*H), (h_n, c_n)).
"""
from dataclasses import dataclass

import torch

from ..errors import KernelUnavailable
from . import fused, fused_variants, native, reference, reference_variants, reference_min, scan

KERNELS = {k.name: k for k in (native, fused, reference)}
# Fastest first: native is torch's fused op (oneDNN / cuDNN); fused is ours; reference is the oracle.
AUTO_ORDER = ("native", "fused", "reference")
ENGINES = ("auto", *KERNELS)
# The same engine names for the LSTM variants and the minimal RNNs: each name means that cell's kernel.
VARIANT_KERNELS = {k.name: k for k in (native, fused_variants, reference_variants)}
MIN_KERNELS = {k.name: k for k in (native, scan, reference_min)}
MIN_CELLS = ("minlstm", "mingru")


@dataclass(frozen=True)
class KernelConfig:
    """What a kernel must support to run one LSTM stack."""
    num_layers: int = 1
    bidirectional: bool = False
    proj_size: int = 0
    bias: bool = True
    dropout: float = 0.0  # between layers, as in torch.nn.LSTM
    recurrent_dropout: float = 0.0  # variational: one mask on h per sequence (Gal & Ghahramani 2016)
    masked: bool = False  # an arbitrary (T, B) step mask rather than right padding
    dtype: torch.dtype = torch.float32
    packed: bool = False  # variable-length (PackedSequence) input
    training: bool = False  # gradients will be taken: chooses for forward + backward speed
    cell: str = "lstm"  # "minlstm" and "mingru" (cells/min_rnn.py) run on their own kernels
    # LSTM variants (cells/lstm_variant.py); the defaults are the standard LSTM cell.
    peephole: bool = False
    cifg: bool = False  # coupled input-forget gate: three gate blocks (i, g, o)
    layer_norm: bool = False
    zoneout_c: float = 0.0  # the probability of keeping each unit's previous value, in training
    zoneout_h: float = 0.0
    activation: str = "tanh"  # by Keras name (cells/activations.py)
    recurrent_activation: str = "sigmoid"


def select(config: KernelConfig, device, engine: str = "auto"):
    """Choose the kernel that runs `config` on `device`.

    Args:
        config: the stack's configuration.
        device: a torch.device or string.
        engine: "auto" (the fastest kernel that supports the configuration) or a kernel's name.

    Returns:
        (kernel module, reason) — the reason says why it was chosen or why faster ones were passed over.

    Raises:
        KernelUnavailable: a kernel asked for by name cannot run the configuration.
        ValueError: an unknown engine name.
    """
    device = torch.device(device)
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    family = _family(config)
    if engine != "auto":
        why_not = family[engine].unsupported(config, device)
        if why_not:
            raise KernelUnavailable(f"engine={engine!r} cannot run this configuration: {why_not}")
        return family[engine], f"{engine}: requested by name"
    order, why_order = _auto_order(config, device)
    passed = [why_order] if why_order else []
    for name in order:
        why_not = family[name].unsupported(config, device)
        if why_not is None:
            reason = f"{name}: fastest kernel that supports this configuration"
            if passed:
                reason += " (passed over " + "; ".join(passed) + ")"
            return family[name], reason
        passed.append(f"{name}: {why_not}")
    raise KernelUnavailable("no kernel runs this configuration: " + "; ".join(passed))


def _family(config):
    """The kernel behind each engine name for this configuration's cell."""
    if config.cell in MIN_CELLS:
        return MIN_KERNELS
    return VARIANT_KERNELS if reference_variants.is_variant(config) else KERNELS


def _auto_order(config, device):
    """The order auto tries the kernels in, and why it differs from AUTO_ORDER (or None).

    torch's op has no oneDNN path for projections or packed sequences on the CPU and falls back to a
    generic loop; the fused kernel measured faster there (training at I=512 H=1024 P=512 B=64 T=100:
    2.9 s vs 3.9 s; packed, I=128 H=256 B=64 T=100: 0.19 s vs 0.51 s). Packed inference ran at
    about the same speed on both, so it stays with torch's op.
    """
    if device.type != "cpu":
        return AUTO_ORDER, None
    if config.proj_size:
        return ("fused", "native", "reference"), ("native: slower for projections on the CPU, where torch's "
                                                   "op has no oneDNN path")
    if config.packed and config.training:
        return ("fused", "native", "reference"), ("native: slower to train on packed sequences on the CPU, "
                                                   "where torch's op has no oneDNN path")
    return AUTO_ORDER, None
