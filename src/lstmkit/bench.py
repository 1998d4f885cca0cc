"""Kernel timings next to torch.nn.LSTM and a plain autograd loop, measured side by side in one run.

Times on shared machines vary from run to run; ratios measured in the same run, with the
contenders alternated, hold. Nothing here asserts a time.
"""
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import nn as lnn
from .saving import atomic_write

SHAPES = {  # name: (I, H, B, T)
    "S1": (1, 50, 32, 50),  # the classic Keras example
    "S2": (128, 256, 64, 100),
    "S3": (512, 1024, 64, 100),
    "S4": (64, 256, 1, 1000),
}
CONTENDERS = ("torch.nn.LSTM", "auto", "native", "fused", "compiled", "reference", "plain loop", "LSTMCell loop")
# Training with variational recurrent dropout (p=0.25), which torch's fused op cannot run: lstmkit's
# fused kernel next to the same dropout written as a plain loop (what one falls back to elsewhere).
VARIANTS = ("fused + recurrent dropout", "compiled + recurrent dropout", "plain loop + recurrent dropout")


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


@dataclass
class Row:
    shape: str
    mode: str  # "forward" (inference) or "train" (forward + backward)
    contender: str
    seconds: float
    gflops: float
    ratio: float  # time / torch.nn.LSTM's time in the same run
    peak_fraction: float  # GFLOP/s / best measured matmul GFLOP/s


class PlainLoop(torch.nn.Module):
    """What one writes by hand: the gate equations in torch ops in a Python loop, autograd for BPTT."""

    def __init__(self, lstm: torch.nn.LSTM, recurrent_dropout: float = 0.0):
        super().__init__()
        self.w_ih, self.w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
        self.b = lstm.bias_ih_l0 + lstm.bias_hh_l0
        self.p = recurrent_dropout

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.w_hh.shape[1])
        keep = torch.nn.functional.dropout(torch.ones_like(h), self.p) if self.p else None
        ys = []
        for x_t in x:
            h_in = h if keep is None else h * keep
            i, f, g, o = (x_t @ self.w_ih.t() + h_in @ self.w_hh.t() + self.b).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            ys.append(h)
        return torch.stack(ys), (h[None], c[None])


class CellLoop(torch.nn.Module):
    """torch.nn.LSTMCell stepped in a Python loop (torch's fused pointwise cell op), autograd for BPTT."""

    def __init__(self, lstm: torch.nn.LSTM):
        super().__init__()
        self.cell = torch.nn.LSTMCell(lstm.input_size, lstm.hidden_size)
        self.cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.cell.hidden_size)
        ys = []
        for x_t in x:
            h, c = self.cell(x_t, (h, c))
            ys.append(h)
        return torch.stack(ys), (h[None], c[None])


def lstm_flops(I, H, B, T, mode):
    """2*T*B*4H*(I+H) per forward; three times that for forward + backward."""
    f = 2 * T * B * 4 * H * (I + H)
    return f if mode == "forward" else 3 * f


def matmul_peak(repeats=5, clock=time.perf_counter):
    """Best GFLOP/s torch.mm reaches here (one call, best of `repeats`) on a large square GEMM and on the S3 recurrent-step shape."""
    best = 0.0
    for m, k, n in ((2048, 2048, 2048), (64, 1024, 4096), (6400, 512, 4096)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        torch.mm(a, b)
        for _ in range(repeats):  # the best single call: the rate the machine can reach
            t0 = clock()
            torch.mm(a, b)
            best = max(best, 2 * m * k * n / max(clock() - t0, 1e-9) / 1e9)
    return best


def _modules(I, H):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H)
    mods = {"torch.nn.LSTM": ref, "plain loop": PlainLoop(ref), "LSTMCell loop": CellLoop(ref)}
    for engine in ("auto", "native", "fused", "compiled", "reference"):
        m = lnn.LSTM(I, H, engine=engine)
        m.load_state_dict(ref.state_dict())
        mods[engine] = m
    mods["plain loop + recurrent dropout"] = PlainLoop(ref, recurrent_dropout=0.25)
    mods["fused + recurrent dropout"] = lnn.LSTM(I, H, recurrent_dropout=0.25, engine="fused")
    mods["fused + recurrent dropout"].load_state_dict(ref.state_dict())
    mods["compiled + recurrent dropout"] = lnn.LSTM(I, H, recurrent_dropout=0.25, engine="compiled")
    mods["compiled + recurrent dropout"].load_state_dict(ref.state_dict())
    return mods


def _step(module, x, mode):
    if mode == "forward":
        with torch.inference_mode():
            module(x)
        return
    y, (h, c) = module(x)
    (y.sum() + h.sum()).backward()


def bench_shape(name, mode, repeats, peak=1.0, clock=time.perf_counter):
    """Median seconds per call for each contender, alternating contenders within each repeat."""
    contenders = CONTENDERS + (VARIANTS if mode == "train" else ())
    I, H, B, T = SHAPES[name]
    mods = _modules(I, H)
    x = torch.randn(T, B, I, requires_grad=(mode == "train"))
    slow = {"reference", "plain loop", "LSTMCell loop", "plain loop + recurrent dropout"}
    times = {c: [] for c in contenders}
    for c in contenders:
        _step(mods[c], x, mode)  # warm-up
    for r in range(repeats):
        for c in contenders:
            if c in slow and r >= max(2, repeats // 2):
                continue  # the slow loops are stable; fewer repeats keep the run short
            t0 = clock()
            _step(mods[c], x, mode)
            times[c].append(clock() - t0)
    base = statistics.median(times["torch.nn.LSTM"])
    flops = lstm_flops(I, H, B, T, mode)
    rows = []
    for c in contenders:
        t = statistics.median(times[c])
        g = flops / t / 1e9
        rows.append(Row(name, mode, c, t, g, t / base, g / peak))
    return rows


def to_markdown(rows, peak, meta, title="Engine benchmark", flops="2·T·B·4H·(I+H) per forward",
                peer="torch.nn.LSTM", peer_time="torch.nn.LSTM's time"):
    """The results table, one section per shape (also for the GRU and RNN rows of `bench_rnn`)."""
    lines = [f"# {title}\n", f"{meta}\n",
             f"Best measured matmul rate (torch.mm) in this run: **{peak:.0f} GFLOP/s**. "
             f"FLOPs: {flops}, 3x for forward+backward. ratio = time / {peer_time} in the same run "
             "(lower is faster).\n"]
    for name, (I, H, B, T) in SHAPES.items():
        sub = [r for r in rows if r.shape == name]
        if not sub:
            continue
        lines.append(f"\n## {name}: I={I} H={H} B={B} T={T}\n")
        lines.append(f"| mode | contender | ms | GFLOP/s | ratio vs {peer} | of peak matmul |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for r in sub:
            lines.append(f"| {r.mode} | {r.contender} | {r.seconds * 1e3:.2f} | {r.gflops:.1f} | "
                         f"{r.ratio:.2f}x | {r.peak_fraction:.0%} |")
    return "\n".join(lines) + "\n"


def run(shapes=tuple(SHAPES), modes=("forward", "train"), repeats=7, threads=2, out_dir=None, log=print,
        clock="wall"):
    """Run the benchmark and write engine.md and engine.json to `out_dir` (when given).

    clock: "wall", or "cpu" (this thread's CPU time, with threads=1: on a CPU shared with other jobs
    it counts the work done, not the time spent waiting for a core).

    Returns:
        (rows, peak GFLOP/s).
    """
    if clock == "cpu" and threads != 1:
        raise ValueError(f"clock: 'cpu' counts one thread's time and needs threads=1, got threads={threads}")
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    peak = matmul_peak(clock=CLOCKS[clock])
    log(f"matmul peak: {peak:.0f} GFLOP/s ({threads} threads)")
    rows = []
    for name in shapes:
        for mode in modes:
            for r in bench_shape(name, mode, repeats, peak=peak, clock=CLOCKS[clock]):
                rows.append(r)
                log(f"{name} {mode:7s} {r.contender:14s} {r.seconds * 1e3:9.2f} ms  {r.gflops:7.1f} GFLOP/s"
                    f"  {r.ratio:5.2f}x")
    if out_dir is not None:
        meta = (f"torch {torch.__version__}, {threads} threads, {platform.processor() or platform.machine()}, "
                f"float32, CPU; {clock} clock; median of {repeats} alternated repeats; OMP_WAIT_POLICY="
                f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}; load average {load:.1f} at the start.")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "engine.md", to_markdown(rows, peak, meta))
        atomic_write(out / "engine.json", json.dumps(
            {"peak_gflops": peak, "meta": meta, "rows": [asdict(r) for r in rows]}, indent=1))
    return rows, peak
