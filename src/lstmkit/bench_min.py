"""Training time of minLSTM and minGRU next to the sequential LSTM of the same width, in one run.

At I=H=256, B=8 and T in (512, 1024, 4096), one training step (forward + backward of y.sum()) of:
minLSTM and minGRU on the compiled scan (`kernels/scan_compiled.py`, what `auto` runs), minLSTM on the
log-space scan (`kernels/scan.py`, the fallback), minLSTM's own sequential form (the `reference`
loop, up to T=1024: at 4096 it only repeats what 1024 shows, 4x slower), and torch.nn.LSTM
(oneDNN's sequential LSTM). Contenders alternate within each repeat; the median is reported, on
this thread's CPU clock with one thread, so other jobs on a shared CPU count less. Nothing asserts a time.

Example:
    >>> from lstmkit import bench_min
    >>> times = bench_min.bench_length(64, repeats=1)  # doctest: +SKIP
"""
import os
import statistics
import time
from pathlib import Path

import torch

from . import nn as lnn
from .saving import atomic_write

I, H, B = 256, 256, 8
LENGTHS = (512, 1024, 4096)
BASE = "torch.nn.LSTM (sequential)"
SEQUENTIAL_UP_TO = 1024


def contenders(T):
    """The modules timed at length T, by name."""
    torch.manual_seed(0)
    m = {"minLSTM, compiled scan (auto)": lnn.MinLSTM(I, H, engine="compiled"),
         "minGRU, compiled scan (auto)": lnn.MinGRU(I, H, engine="compiled"),
         "minLSTM, log-space scan": lnn.MinLSTM(I, H, engine="fused"), BASE: torch.nn.LSTM(I, H)}
    if T <= SEQUENTIAL_UP_TO:
        m["minLSTM, sequential form"] = lnn.MinLSTM(I, H, engine="reference")
    return m


def _train_step(module, x):
    module(x)[0].sum().backward()


def bench_length(T, repeats=5):
    """Median CPU seconds of one training step per contender at length T: {name: seconds}."""
    x = torch.randn(T, B, I, generator=torch.Generator().manual_seed(0))
    modules = contenders(T)
    times = {k: [] for k in modules}
    for m in modules.values():
        _train_step(m, x)  # warm-up (and the compiled library's build, on first use)
    for _ in range(repeats):
        for k, m in modules.items():
            t0 = time.thread_time()
            _train_step(m, x)
            times[k].append(time.thread_time() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def profile(T=4096, repeats=3):
    """CPU ms of each part of the compiled minLSTM's training step at length T, and the GEMMs' GFLOP/s.

    The parts are what one step runs: the input GEMM k = x W^T + b, the compiled scan forward and
    backward, and the GEMMs of backward (dx = dk W, dW = dk^T x) and db's sum."""
    import torch.nn.functional as F
    from .kernels import scan_compiled
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(T, B, I, generator=g), torch.randn(3 * H, I, generator=g) / 16, torch.zeros(3 * H)
    h0 = torch.zeros(B, H)
    k = F.linear(x, w, b)
    y, h_n, _ = scan_compiled.scan(k, h0, None, True, False)
    ops = scan_compiled.compiled._ops()
    dk, _ = ops.scan_backward(torch.ones_like(y), h_n, k, y, h0, None, True, False)
    dk2, x2 = dk.view(-1, 3 * H), x.view(-1, I)
    dy = torch.ones_like(y)
    parts = {"input GEMM x W^T + b": lambda: F.linear(x, w, b),
             "scan forward (C++)": lambda: ops.scan_forward(k, h0, None, True, False),
             "scan backward (C++)": lambda: ops.scan_backward(dy, h_n, k, y, h0, None, True, False),
             "dx GEMM dk W": lambda: dk2 @ w, "dW GEMM dk^T x": lambda: dk2.t() @ x2,
             "db sum": lambda: dk2.sum(0)}
    out = {}
    for name, f in parts.items():
        f()
        t0 = time.thread_time()
        for _ in range(repeats):
            f()
        out[name] = (time.thread_time() - t0) / repeats
    return out


def to_markdown(results, meta, parts=None):
    """results: {T: {name: seconds}} -> the markdown table, times and ratios to torch.nn.LSTM."""
    lines = [f"# minLSTM / minGRU training step next to the sequential LSTM, I=H={H} B={B}\n", meta + "\n",
             "| T | contender | ms | torch.nn.LSTM / contender |", "|---:|---|---:|---:|"]
    for T, t in results.items():
        lines += [f"| {T} | {k} | {v * 1e3:.1f} | {t[BASE] / v:.1f}x |" for k, v in t.items()]
    if parts:
        T = max(results)
        flops = 2 * T * B * I * 3 * H  # one of the three GEMMs (forward k, dx, dW)
        lines += [f"\n## Where the compiled minLSTM's step goes, T={T} (same run)\n", "| part | ms | GFLOP/s |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1e3:.1f} | " + (f"{flops / v / 1e9:.0f} |" if "GEMM" in k else "|")
                  for k, v in parts.items()]
        gemms = sum(v for k, v in parts.items() if "GEMM" in k)
        lines += ["", f"torch.nn.LSTM's step does {8 / 3:.2f}x the multiply-adds of minLSTM's (gate blocks "
                  "4·(I+H) against 3·I per step and sample, each three times for training). minLSTM's three "
                  f"GEMMs alone take {gemms * 1e3:.0f} ms: with the scan free, the step would still be at most "
                  f"{results[T][BASE] / gemms:.1f}x faster than torch.nn.LSTM on one thread."]
    return "\n".join(lines) + "\n"


def run(lengths=LENGTHS, repeats=5, out_dir=None, log=print):
    """Measure with one thread, print and (with out_dir) write engine_min.md; returns {T: {name: s}}."""
    torch.set_num_threads(1)
    load, results, parts = os.getloadavg()[0], {}, None
    for T in lengths:
        results[T] = bench_length(T, repeats)
        for k, v in results[T].items():
            log(f"T={T:5d} {k:32s} {v * 1e3:9.1f} ms  {results[T][BASE] / v:6.1f}x faster than torch.nn.LSTM")
        if out_dir is not None:
            meta = (f"torch {torch.__version__}, 1 thread, float32, CPU time of the measuring thread; median "
                    f"of {repeats} alternated repeats; load average {load:.1f} / {os.getloadavg()[0]:.1f} at "
                    "the start / last write, on a 2-core CPU shared with other jobs (absolute times vary, "
                    "ratios from one run hold). Command: benchmarks/engine.py --min"
                    + (f" --repeats {repeats}" if repeats != 5 else ""))
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            atomic_write(Path(out_dir) / "engine_min.md", to_markdown(results, meta, parts))
        if T == max(lengths):
            parts = profile(T)
            for k, v in parts.items():
                log(f"T={T:5d} {k:32s} {v * 1e3:9.1f} ms")
    if out_dir is not None:
        atomic_write(Path(out_dir) / "engine_min.md", to_markdown(results, meta, parts))
    return results
