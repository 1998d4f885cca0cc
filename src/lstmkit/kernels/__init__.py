"""LSTM kernels behind one interface; `select` is the only place that decides which one runs.

Every kernel has `name`, `unsupported(config, device) -> str | None` (why it cannot run a
configuration, or None) and `run(x, hx, weights, config, training, mask=None, lengths=None)`:

    x        (T, B, I) time-major input
    hx       (h0 (L*D, B, P or H), c0 (L*D, B, H))
    weights  one `cells.LayerWeights` per layer and direction, in torch's order (l0, l0_reverse, l1, ...)
    mask     (T, B) bool: False steps change no state and output zeros (any padding, e.g. left)
    lengths  (B,) int64 on the CPU: right-padded sequences, the case PackedSequence describes

and returns (y (T, B, D*P or D*H), (h_n, c_n)). For the single-state cells (`config.cell` "gru",
"rnn_tanh", "rnn_relu") hx is h0 (L*D, B, H) alone and the result is (y (T, B, D*H), h_n).
"""
from dataclasses import dataclass

import torch

from ..errors import KernelUnavailable
from . import (compiled, compiled_variants, fused, fused_variants, native, reference, reference_min,
               reference_variants, scan, scan_compiled)

KERNELS = {k.name: k for k in (native, fused, reference, compiled)}
# Fastest first: native is torch's fused op (oneDNN / cuDNN); fused and compiled are ours (compiled
# moves ahead where `_auto_order` says); reference is the oracle.
AUTO_ORDER = ("native", "fused", "compiled", "reference")
ENGINES = ("auto", *KERNELS)
# The same engine names for the LSTM variants and the minimal RNNs: each name means that cell's kernel.
VARIANT_KERNELS = {k.name: k for k in (native, fused_variants, compiled_variants, reference_variants)}
MIN_KERNELS = {k.name: k for k in (native, scan, scan_compiled, reference_min)}
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
    cell: str = "lstm"  # "lstm", "gru", "rnn_tanh" or "rnn_relu" (the simple RNN with its nonlinearity),
    # "minlstm" or "mingru" (cells/min_rnn.py, on their own kernels)
    reset_after: bool = True  # GRU: torch's form (Keras 3's default); False is Keras' reset-before form
    hidden_size: int = 0  # H, where the choice depends on it (GRU, RNN, the compiled kernel); 0: not given
    capture: str = ""  # "compile" (torch.compile, torch.export), "onnx" (ONNX export) or "" (eager): ops.capture()
    batch: int = 0  # B of the call (0: unknown, e.g. when explain asks before any input)
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
        if engine not in family:
            raise KernelUnavailable(f"engine={engine!r} cannot run this configuration: the {engine} kernel "
                                    "runs the standard LSTM only")
        why_not = family[engine].unsupported(config, device)
        if why_not:
            raise KernelUnavailable(f"engine={engine!r} cannot run this configuration: {why_not}")
        return family[engine], f"{engine}: requested by name"
    order, why_order = _auto_order(config, device)
    passed = [why_order] if why_order else []
    for name in (n for n in order if n in family):  # the compiled kernel exists for the plain LSTM only
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
    about the same speed on both, so it stays with torch's op. The same holds for the GRU and the
    simple RNN (packed training at I=128 H=256 B=64 T=100, one thread: GRU 0.48 s vs 1.36 s, RNN
    0.21 s vs 0.51 s).

    torch's GRU and RNN ops have no oneDNN path on the CPU either, and their backward computes the
    weight gradients step by step; from H = 1024 on the fused kernel trained faster (I=512 B=64 T=100,
    one thread: GRU 7.9 s vs 9.2 s, RNN 2.7 s vs 3.3 s) while at H = 512 torch's op stayed ahead
    (2.30 s vs 2.36 s, 0.65 s vs 0.68 s). The compiled kernel now goes ahead of both for these cells:
    see `_single_state_order`.

    minLSTM and minGRU run the compiled scan (`scan_compiled`) ahead of the log-space scan: training at
    I=H=256 B=8 T=4096, one thread, CPU time, it took 0.56 s against the log-space scan's 4.77 s
    (benchmarks/results/engine_min.md).

    The compiled kernel (the whole loop in C++) goes first where the batch is at most 4 and the
    per-step work B·4H·P is at most 2^20: at S4 (B=1, H=256, T=1000) it ran at 0.90x torch's forward time
    and 1.02x its training time, and `auto` there at 0.87x and 0.91x (one thread, CPU time, the
    machine shared: benchmarks/results/engine.md). It also goes ahead of `fused` wherever that runs
    (masks, recurrent dropout, projections, packed training) while B·4H·P < 2^26, where the fused
    kernel's oneDNN matmuls do not yet pay: with recurrent dropout it trained at 0.90x/0.86x/1.04x
    torch's time at S1/S2/S4 against fused's 2.24x/1.22x/2.97x; at S3 (2^28) both ran at 1.06-1.08x.
    It trains faster than torch's op up to a per-step work of 2^24 (S1 and S2: 0.94x and 0.85x
    torch's time with the register-blocked float32 step, after 0.86x and 0.78x in an earlier run;
    one thread, CPU time, loaded machine), so training goes to it there; their forward (0.91x-1.13x,
    within the run-to-run spread of torch's own op) stays with torch's op.

    For the LSTM variants the compiled variants kernel goes ahead of the fused one on the CPU: it trained
    faster at every variant on S2 and S3 (benchmarks/results/engine_variants.md), and with a projection
    (P=128) at S2 (engine_variants_proj.md).
    """
    if device.type != "cpu":
        return AUTO_ORDER, None
    if config.cell in MIN_CELLS:
        return ("native", "compiled", "fused", "reference"), None
    if config.cell != "lstm":
        return _single_state_order(config)
    if reference_variants.is_variant(config):
        return ("native", "compiled", "fused", "reference"), ("fused: slower than the compiled variants kernel on the CPU "
                                                    "(benchmarks/results/engine_variants.md)")
    # The compiled kernel runs the plain LSTM only: for the other cells work stays 0 and it goes last.
    plain = config.cell == "lstm" and not reference_variants.is_variant(config)
    work = config.batch * 4 * config.hidden_size * (config.proj_size or config.hidden_size) * plain
    if 0 < work <= _COMPILED_BEATS_NATIVE and config.batch <= _COMPILED_MAX_BATCH:
        return ("compiled", "native", "fused", "reference"), ("native: slower than the compiled kernel for "
                                                              "this small per-step work on the CPU")
    # A module in train mode called under no_grad / inference_mode runs forward only: torch's op then.
    if config.training and torch.is_grad_enabled() and 0 < work <= _COMPILED_TRAINS_FASTER:
        return ("compiled", "native", "fused", "reference"), ("native: slower to train than the compiled "
                                                              "kernel for this per-step work on the CPU")
    ours = ("compiled", "fused") if 0 < work < _COMPILED_BEATS_FUSED else ("fused", "compiled")
    if config.proj_size:
        return (*ours, "native", "reference"), ("native: slower for projections on the CPU, where torch's "
                                                "op has no oneDNN path")
    if config.packed and config.training:
        return (*ours, "native", "reference"), ("native: slower to train on packed sequences on the CPU, "
                                                "where torch's op has no oneDNN path")
    return ("native", *ours, "reference"), None


def _single_state_order(config):
    """`_auto_order` on the CPU for the GRU and the simple RNN, whose torch ops have no oneDNN path.

    The compiled kernel goes first: one thread, CPU time, the machine shared (load 17-21 on 2 cores),
    at S1/S2/S3/S4 it ran the GRU at 0.68x/0.80x/1.10x/0.38x torch's forward time and
    0.32x/0.69x/0.76x/0.09x its training time, the RNN at 0.55x/0.74x/0.88x/0.30x and
    0.48x/0.80x/0.64x/0.13x, ahead of the fused kernel but for noise, with masks, recurrent dropout
    and the reset-before GRU too (benchmarks/results/engine_gru_rnn.md). S3 forward is one large GEMM
    per step in both, at parity within that run's noise (torch's own op, run as `native`, came out at
    0.84x of itself; an earlier run had the compiled GRU at 0.94x there).
    On packed sequences torch's op skips the finished rows while the compiled kernel masks them: it
    trained faster still (I=128 H=256 B=64 T=100: GRU 0.34x, RNN 0.60x torch's time) but inference
    was mixed (GRU 1.38x vs native's 1.14x, RNN 1.64x vs 1.78x), so packed inference stays with
    torch's op. Behind the compiled kernel (when it cannot be built) `_auto_order`'s fused-kernel
    rules for these cells hold (training from H = 1024 on, and on packed sequences).
    """
    if config.packed and not config.training:
        return ("native", "compiled", "fused", "reference"), None
    fused_first = config.training and (config.hidden_size >= 1024 or config.packed)
    rest = ("fused", "native", "reference") if fused_first else ("native", "fused", "reference")
    return ("compiled", *rest), "native: slower than the compiled kernel for the GRU and the simple RNN on the CPU"


# Per-step work is B * 4H * P multiply-adds, the recurrent GEMM of one step (see `_auto_order`).
_COMPILED_BEATS_NATIVE = 1 << 20
_COMPILED_MAX_BATCH = 4
_COMPILED_BEATS_FUSED = 1 << 26
_COMPILED_TRAINS_FASTER = 1 << 24  # S1 and S2 (B=64, H=256): see `_auto_order`
