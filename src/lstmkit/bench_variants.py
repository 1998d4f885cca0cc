"""Training times of the LSTM variants and minLSTM, next to torch.nn.LSTM (vanilla), in one run.

Each variant trains (forward + backward) on lstmkit's fused variant kernel, next to torch.nn.LSTM
(the standard cell on oneDNN) and next to the plain autograd loop over the same cell (the `reference`
kernel: the loop one writes by hand). minLSTM at T=4096 trains as a scan next to its own sequential
form and a sequential LSTM of the same width (torch.nn.LSTM). Contenders alternate within each
repeat; the median is reported. Nothing here asserts a time.
"""
import os
import statistics
import time
from pathlib import Path

import torch

from . import nn as lnn
from .bench import SHAPES
from .saving import atomic_write

VARIANTS = {
    "peephole": dict(peephole=True),
    "cifg": dict(cifg=True),
    "layer_norm": dict(layer_norm=True),
    "zoneout (0.1, 0.05)": dict(zoneout=(0.1, 0.05)),
    "relu / hard_sigmoid": dict(activation="relu", recurrent_activation="hard_sigmoid"),
    "all of them": dict(peephole=True, cifg=True, layer_norm=True, zoneout=(0.1, 0.05)),
}
MIN_SHAPE = (256, 256, 8, 4096)  # I, H, B, T for minLSTM against the sequential LSTM


def _train_step(module, x):
    y = module(x)[0]
    y.sum().backward()


def _median_times(modules, x, repeats, slow=()):
    """Median seconds of one training step per module, alternating modules within each repeat."""
    times = {k: [] for k in modules}
    for m in modules.values():
        _train_step(m, x)  # warm-up
    for r in range(repeats):
        for k, m in modules.items():
            if k in slow and r >= max(2, repeats // 2):
                continue  # the slow loops are stable; fewer repeats keep the run short
            t0 = time.perf_counter()
            _train_step(m, x)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_variants(shape, repeats):
    """Rows (shape, variant, fused s, reference s, torch.nn.LSTM s) for every variant on one shape."""
    I, H, B, T = SHAPES[shape]
    torch.manual_seed(0)
    x = torch.randn(T, B, I)
    rows = []
    for name, options in VARIANTS.items():
        modules = {"torch.nn.LSTM": torch.nn.LSTM(I, H),
                   "fused": lnn.LSTM(I, H, engine="fused", **options).train(),
                   "plain loop": lnn.LSTM(I, H, engine="reference", **options).train()}
        t = _median_times(modules, x, repeats, slow=("plain loop",))
        rows.append((shape, name, t["fused"], t["plain loop"], t["torch.nn.LSTM"]))
    return rows


def bench_min(repeats, shape=MIN_SHAPE):
    """Seconds of one training step: minLSTM scan, minLSTM sequential, torch.nn.LSTM, same width."""
    I, H, B, T = shape
    torch.manual_seed(0)
    x = torch.randn(T, B, I)
    modules = {"minLSTM (scan)": lnn.MinLSTM(I, H), "minLSTM (sequential)": lnn.MinLSTM(I, H, engine="reference"),
               "LSTM (torch.nn.LSTM, sequential)": torch.nn.LSTM(I, H)}
    return _median_times(modules, x, repeats, slow=("minLSTM (sequential)",))


def to_markdown(rows, min_times, meta):
    lines = ["# LSTM variants and minLSTM: training time\n", meta + "\n",
             "Forward + backward of one batch. ratio columns: the variant's fused time / torch.nn.LSTM's "
             "(vanilla cell, oneDNN) time, and the plain autograd loop's time / the fused time (how much "
             "faster than the loop one writes by hand). Goals: ≤ 1.3x and ≥ 1.5x.\n",
             "| shape | variant | fused ms | plain loop ms | torch.nn.LSTM ms | fused / torch.nn.LSTM | "
             "plain loop / fused |", "|---|---|---:|---:|---:|---:|---:|"]
    for shape, name, fused, loop, ref in rows:
        lines.append(f"| {shape} | {name} | {fused * 1e3:.1f} | {loop * 1e3:.1f} | {ref * 1e3:.1f} | "
                     f"{fused / ref:.2f}x | {loop / fused:.2f}x |")
    if min_times:
        I, H, B, T = MIN_SHAPE
        base = min_times["minLSTM (scan)"]
        lines += [f"\n## minLSTM, I={I} H={H} B={B} T={T}: training step\n",
                  "| contender | ms | time / minLSTM scan |", "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1e3:.1f} | {v / base:.1f}x |" for k, v in min_times.items()]
    return "\n".join(lines) + "\n"


def run(shapes=("S2", "S3"), repeats=5, threads=2, out_dir=None, with_min=True, log=print):
    """Measure, print and (with out_dir) write engine_variants.md; returns (rows, min_times)."""
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    rows, min_times = [], {}

    def write():  # after every part, so a time limit keeps what finished
        if out_dir is not None:
            meta = (f"torch {torch.__version__}, {threads} threads, float32, CPU; median of {repeats} alternated "
                    f"repeats; load average {load:.1f} / {os.getloadavg()[0]:.1f} at the start / last write, on "
                    "a CPU shared with other jobs (absolute times vary, ratios from one run hold). Command: "
                    "benchmarks/engine.py --variants" + (f" --repeats {repeats}" if repeats != 5 else ""))
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            atomic_write(Path(out_dir) / "engine_variants.md", to_markdown(rows, min_times, meta))
    for k, shape in enumerate(shapes):
        for row in bench_variants(shape, repeats):
            rows.append(row)
            log(f"{row[0]} {row[1]:22s} fused {row[2] * 1e3:8.1f} ms  loop {row[3] * 1e3:8.1f} ms  "
                f"torch.nn.LSTM {row[4] * 1e3:8.1f} ms  {row[2] / row[4]:.2f}x  {row[3] / row[2]:.2f}x")
            write()
        if with_min and k == 0:  # after the first shape: the cheaper measurements come first
            min_times.update(bench_min(repeats))
            for name, v in min_times.items():
                log(f"{name:34s} {v * 1e3:9.1f} ms")
            write()
    return rows, min_times
