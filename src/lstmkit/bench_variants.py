"""Training times of the LSTM variants and minLSTM, next to torch.nn.LSTM (vanilla), in one run.

Each variant trains (forward + backward) on lstmkit's compiled and fused variant kernels, next to
torch.nn.LSTM (the standard cell on oneDNN) and next to the plain autograd loop over the same cell (the
`reference` kernel: the loop one writes by hand). minLSTM at T=4096 trains as a scan next to its own sequential
form and a sequential LSTM of the same width (torch.nn.LSTM). Contenders alternate within each
repeat; the median is reported. Nothing here asserts a time.
"""
import os
import statistics
import time
from pathlib import Path

import torch

from . import nn as lnn
from .bench import CLOCKS, SHAPES
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


def _median_times(modules, x, repeats, slow=(), clock=time.perf_counter):
    """Median seconds of one training step per module, alternating modules within each repeat."""
    times = {k: [] for k in modules}
    for m in modules.values():
        _train_step(m, x)  # warm-up
    for r in range(repeats):
        for k, m in modules.items():
            if k in slow and r >= max(2, repeats // 2):
                continue  # the slow loops are stable; fewer repeats keep the run short
            t0 = clock()
            _train_step(m, x)
            times[k].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_variants(shape, repeats, clock=time.perf_counter, proj_size=0):
    """Rows (shape, variant, compiled s, fused s, plain loop s, torch.nn.LSTM s), every variant on one shape
    (every module with `proj_size`, torch.nn.LSTM's too, where it is given)."""
    I, H, B, T = SHAPES[shape]
    torch.manual_seed(0)
    x = torch.randn(T, B, I)
    rows = []
    for name, options in VARIANTS.items():
        options = dict(options, proj_size=proj_size)
        modules = {"torch.nn.LSTM": torch.nn.LSTM(I, H, proj_size=proj_size),
                   "compiled": lnn.LSTM(I, H, engine="compiled", **options).train(),
                   "fused": lnn.LSTM(I, H, engine="fused", **options).train(),
                   "plain loop": lnn.LSTM(I, H, engine="reference", **options).train()}
        t = _median_times(modules, x, repeats, slow=("plain loop",), clock=clock)
        rows.append((shape, name, t["compiled"], t["fused"], t["plain loop"], t["torch.nn.LSTM"]))
    return rows


def bench_min(repeats, shape=MIN_SHAPE, clock=time.perf_counter):
    """Seconds of one training step: minLSTM scan, minLSTM sequential, torch.nn.LSTM, same width."""
    I, H, B, T = shape
    torch.manual_seed(0)
    x = torch.randn(T, B, I)
    modules = {"minLSTM (scan)": lnn.MinLSTM(I, H), "minLSTM (sequential)": lnn.MinLSTM(I, H, engine="reference"),
               "LSTM (torch.nn.LSTM, sequential)": torch.nn.LSTM(I, H)}
    return _median_times(modules, x, repeats, slow=("minLSTM (sequential)",), clock=clock)


def to_markdown(rows, min_times, meta, earlier_min=""):
    lines = ["# LSTM variants and minLSTM: training time\n", meta + "\n",
             "Forward + backward of one batch. `auto` runs the compiled kernel for every variant on the CPU. "
             "Ratio columns: the compiled kernel's time / torch.nn.LSTM's (vanilla cell; oneDNN without a "
             "projection) time, the "
             "plain autograd loop's time / the compiled time (how much faster than the loop one writes by "
             "hand), and the fused (Python-driven) kernel's time / the compiled time. Goals: ≤ 1.3x and "
             "≥ 1.5x.\n",
             "| shape | variant | compiled ms | fused ms | plain loop ms | torch.nn.LSTM ms | compiled / torch.nn.LSTM "
             "| plain loop / compiled | fused / compiled |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for shape, name, comp, fused, loop, ref in rows:
        lines.append(f"| {shape} | {name} | {comp * 1e3:.1f} | {fused * 1e3:.1f} | {loop * 1e3:.1f} | "
                     f"{ref * 1e3:.1f} | {comp / ref:.2f}x | {loop / comp:.2f}x | {fused / comp:.2f}x |")
    if not min_times and earlier_min:
        lines += ["\n" + earlier_min.rstrip()]
    if min_times:
        I, H, B, T = MIN_SHAPE
        base = min_times["minLSTM (scan)"]
        lines += [f"\n## minLSTM, I={I} H={H} B={B} T={T}: training step\n",
                  "| contender | ms | time / minLSTM scan |", "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1e3:.1f} | {v / base:.1f}x |" for k, v in min_times.items()]
    return "\n".join(lines) + "\n"


def _earlier_min(path):
    """The minLSTM section of an earlier engine_variants.md, marked as such ('' if none)."""
    text = path.read_text() if path.exists() else ""
    if "## minLSTM" not in text:
        return ""
    section = text[text.index("## minLSTM"):]
    note = "\n(not re-measured in this run, which had --skip-min: kept from the file's previous run)\n"
    lines = section.splitlines()
    last = max(i for i, ln in enumerate(lines) if ln.startswith("|"))  # the table's end
    first, rest = lines[0], "\n".join(lines[1:last + 1])
    return first + "\n" + (rest if "not re-measured" in rest else note + rest)


def run(shapes=("S2", "S3"), repeats=5, threads=2, out_dir=None, with_min=True, log=print, clock="wall",
        proj_size=0):
    """Measure, print and (with out_dir) write engine_variants.md; returns (rows, min_times).

    clock: "wall", or "cpu" (this thread's CPU time; needs threads=1, see `bench.run`).
    proj_size: P > 0 gives every LSTM (torch.nn.LSTM's too) that projection and writes
    engine_variants_proj.md instead (the variants only: minLSTM has no projection).
    """
    if clock == "cpu" and threads != 1:
        raise ValueError(f"clock: 'cpu' counts one thread's time and needs threads=1, got threads={threads}")
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    rows, min_times = [], {}
    with_min = with_min and not proj_size
    name = "engine_variants_proj.md" if proj_size else "engine_variants.md"
    target = Path(out_dir) / name if out_dir is not None else None
    earlier = _earlier_min(target) if target is not None and not with_min else ""
    command = ("benchmarks/engine.py --variants" + (f" --shapes {','.join(shapes)}" if list(shapes) != ["S2", "S3"] else "")
               + (f" --repeats {repeats}" if repeats != 5 else "") + f" --threads {threads}"
               + (f" --clock {clock}" if clock != "wall" else "") + ("" if with_min or proj_size else " --skip-min")
               + (f" --proj-size {proj_size}" if proj_size else ""))

    def write():  # after every part, so a time limit keeps what finished
        if target is not None:
            meta = (f"torch {torch.__version__}, {threads} threads, float32, CPU; {clock} clock; median of {repeats} "
                    f"alternated repeats; load average {load:.1f} / {os.getloadavg()[0]:.1f} at the start / last "
                    "write, on a CPU shared with other jobs (absolute times vary, ratios from one run hold). "
                    + (f"Every LSTM, torch.nn.LSTM's too, with proj_size={proj_size} (torch's op then runs without "
                       "oneDNN). " if proj_size else "")
                    + f"Command: {command}")
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, to_markdown(rows, min_times, meta, earlier))
    for k, shape in enumerate(shapes):
        for row in bench_variants(shape, repeats, CLOCKS[clock], proj_size):
            rows.append(row)
            log(f"{row[0]} {row[1]:22s} compiled {row[2] * 1e3:8.1f} ms  fused {row[3] * 1e3:8.1f} ms  loop "
                f"{row[4] * 1e3:8.1f} ms  torch.nn.LSTM {row[5] * 1e3:8.1f} ms  {row[2] / row[5]:.2f}x  "
                f"{row[4] / row[2]:.2f}x")
            write()
        if with_min and k == 0:  # after the first shape: the cheaper measurements come first
            min_times.update(bench_min(repeats, clock=CLOCKS[clock]))
            for name, v in min_times.items():
                log(f"{name:34s} {v * 1e3:9.1f} ms")
            write()
    return rows, min_times
