"""GRU and simple-RNN kernel timings next to torch's own op and a plain autograd loop, side by side in one run.

Same method as `lstmkit.bench` (fixed threads, warm-up, median of alternated repeats; ratios from the
same run; nothing asserts a time). ratio = time / the time of torch's module (torch.nn.GRU or
torch.nn.RNN) holding the same weights.
"""
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from . import nn as lnn
from . import bench
from .bench import SHAPES, Row, matmul_peak
from .saving import atomic_write

CELLS = {"gru": (torch.nn.GRU, lnn.GRU, 3), "rnn": (torch.nn.RNN, lnn.RNN, 1)}
ENGINES = ("auto", "native", "fused", "compiled", "reference")
SLOW = ("reference", "plain loop")
# What torch's op cannot run, on lstmkit's two fast kernels: variational recurrent dropout (p=0.25) in
# training, and the GRU's reset-before form (Keras' reset_after=False).
_DROPOUT = ("recurrent dropout", dict(recurrent_dropout=0.25))
VARIANTS = {"gru": (_DROPOUT, ("reset_after=False", dict(reset_after=False))), "rnn": (_DROPOUT,)}


class PlainGRULoop(torch.nn.Module):
    """What one writes by hand: torch.nn.GRU's equations in torch ops in a Python loop, autograd for BPTT."""

    def __init__(self, gru: torch.nn.GRU):
        super().__init__()
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0

    def forward(self, x):
        h = x.new_zeros(x.shape[1], self.w_hh.shape[1])
        ys = []
        for x_t in x:
            x_r, x_z, x_n = (x_t @ self.w_ih.t() + self.b_ih).chunk(3, 1)
            h_r, h_z, h_n = (h @ self.w_hh.t() + self.b_hh).chunk(3, 1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            h = (1 - z) * n + z * h
            ys.append(h)
        return torch.stack(ys), h[None]


class PlainRNNLoop(torch.nn.Module):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) in a Python loop, autograd for BPTT."""

    def __init__(self, rnn: torch.nn.RNN):
        super().__init__()
        self.w_ih, self.w_hh, self.b = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0

    def forward(self, x):
        h = x.new_zeros(x.shape[1], self.w_hh.shape[1])
        ys = []
        for x_t in x:
            h = torch.tanh(x_t @ self.w_ih.t() + h @ self.w_hh.t() + self.b)
            ys.append(h)
        return torch.stack(ys), h[None]


def flops(cell, I, H, B, T, mode):
    """2·T·B·G·H·(I+H) per forward (G = 3 gates for the GRU, 1 for the RNN); 3x for forward + backward."""
    f = 2 * T * B * CELLS[cell][2] * H * (I + H)
    return f if mode == "forward" else 3 * f


def _modules(cell, I, H, mode):
    torch_cls, ours_cls, _ = CELLS[cell]
    torch.manual_seed(0)
    ref = torch_cls(I, H)
    mods = {f"torch.nn.{torch_cls.__name__}": ref,
            "plain loop": (PlainGRULoop if cell == "gru" else PlainRNNLoop)(ref)}
    for engine in ENGINES:
        mods[engine] = ours_cls(I, H, engine=engine)
        mods[engine].load_state_dict(ref.state_dict())
    for label, kw in VARIANTS[cell]:
        if label == "recurrent dropout" and mode != "train":
            continue  # dropout is off in inference: the same as the plain rows
        for engine in ("fused", "compiled"):
            mods[f"{engine} + {label}"] = ours_cls(I, H, engine=engine, **kw)
            mods[f"{engine} + {label}"].load_state_dict(ref.state_dict())
    return mods


def _step(module, x, mode):
    if mode == "forward":
        with torch.inference_mode():
            module(x)
        return
    y, h = module(x)
    (y.sum() + h.sum()).backward()


def bench_shape(cell, name, mode, repeats, peak=1.0, clock=time.perf_counter):
    """Rows for one cell, shape and mode: median seconds per call, contenders alternated in each repeat."""
    I, H, B, T = SHAPES[name]
    mods = _modules(cell, I, H, mode)
    x = torch.randn(T, B, I, requires_grad=(mode == "train"))
    times = {c: [] for c in mods}
    for c in mods:
        _step(mods[c], x, mode)  # warm-up
    for r in range(repeats):
        for c in mods:
            if c in SLOW and r >= max(2, repeats // 2):
                continue  # the slow loops are stable; fewer repeats keep the run short
            t0 = clock()
            _step(mods[c], x, mode)
            times[c].append(clock() - t0)
    base = statistics.median(next(iter(times.values())))
    f = flops(cell, I, H, B, T, mode)
    return [Row(name, mode, f"{cell}: {c}", statistics.median(t), f / statistics.median(t) / 1e9,
                statistics.median(t) / base, f / statistics.median(t) / 1e9 / peak) for c, t in times.items()]


def to_markdown(rows, peak, meta):
    return bench.to_markdown(rows, peak, meta, title="Engine benchmark: GRU and simple RNN",
                             flops="2·T·B·G·H·(I+H) per forward (G = 3 for the GRU, 1 for the RNN)",
                             peer="torch's op", peer_time="the time of torch's module (torch.nn.GRU or "
                             "torch.nn.RNN, same weights)")


def run(cells=tuple(CELLS), shapes=tuple(SHAPES), modes=("forward", "train"), repeats=5, threads=2,
        out_dir=None, log=print, clock="wall"):
    """Run the benchmark; write engine_gru_rnn.md to `out_dir` when given. Returns (rows, peak GFLOP/s).

    clock: "wall", or "cpu" (this thread's CPU time; needs threads=1), as in `lstmkit.bench.run`.
    """
    if clock == "cpu" and threads != 1:
        raise ValueError(f"clock: 'cpu' counts one thread's time and needs threads=1, got threads={threads}")
    torch.set_num_threads(threads)
    load = os.getloadavg()
    peak = matmul_peak(clock=bench.CLOCKS[clock])
    log(f"matmul peak: {peak:.0f} GFLOP/s ({threads} threads)")
    rows = []
    for cell in cells:
        for name in shapes:
            for mode in modes:
                for r in bench_shape(cell, name, mode, repeats, peak, bench.CLOCKS[clock]):
                    rows.append(r)
                    log(f"{name} {mode:7s} {r.contender:34s} {r.seconds * 1e3:9.2f} ms  {r.gflops:6.1f} GFLOP/s"
                        f"  {r.ratio:5.2f}x")
    if out_dir is not None:
        meta = (f"torch {torch.__version__}, {threads} thread(s), {platform.processor() or platform.machine()}, "
                f"float32, CPU; {clock} clock; median of {repeats} alternated repeats (reference and plain loop: fewer); "
                f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the start, "
                f"{os.getloadavg()[0]:.1f} at the end, on a {os.cpu_count()}-core machine shared with other "
                "work: absolute times are noisy, ratios from the same run hold better. Command: "
                f"`{' '.join(sys.argv)}`.")
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write(Path(out_dir) / "engine_gru_rnn.md", to_markdown(rows, peak, meta))
    return rows, peak
