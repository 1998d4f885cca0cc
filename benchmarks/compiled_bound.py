"""The bound on the compiled kernel at S4 (B=1, H=256, T=1000): each step reads all of W_hh.

At batch 1 a step's recurrent GEMM is a GEMV over W_hh (4H x H floats = 1 MiB at H=256): 2 FLOPs per
4 bytes read, so the step is bounded by how fast one core streams 1 MiB from its L2 cache, not by its
FMA rate. This measures that rate (torch.sum over a 1 MiB tensor, resident in L2 after the first
pass, one thread, CPU time) and sets it next to the per-step time of torch.nn.LSTM and of the compiled
kernel in the same run.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/compiled_bound.py [--repeats 200]
Writes benchmarks/results/compiled_bound.md. Never asserts a time.
"""
import argparse
import os
import time
from pathlib import Path

import torch

import lstmkit


def best(fn, repeats):
    """The fastest of `repeats` calls, in this thread's CPU seconds (the least disturbed by other jobs)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "compiled_bound.md"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    I, H, B, T = 64, 256, 1, 1000
    w = torch.randn(4 * H, H)  # W_hh at S4: 1 MiB
    read = best(lambda: w.sum(), a.repeats)
    rate = w.numel() * 4 / read
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H)
    ours = lstmkit.nn.LSTM(I, H, engine="compiled")
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, I)
    with torch.inference_mode():
        t_torch = best(lambda: ref(x), max(5, a.repeats // 20)) / T
        t_ours = best(lambda: ours(x), max(5, a.repeats // 20)) / T
    lines = [
        "# The S4 bound: one core streaming W_hh from L2\n",
        f"torch {torch.__version__}, 1 thread, CPU time, best of {a.repeats} (sum) and "
        f"{max(5, a.repeats // 20)} (LSTM) calls; load average {load:.1f} at the start (the 2-core CPU was "
        "shared with other jobs).\n",
        "Command: `PYTHONPATH=src .venv/bin/python benchmarks/compiled_bound.py`\n",
        "| quantity | value |", "|---|---:|",
        f"| L2 read rate, torch.sum over 1 MiB | {rate / 1e9:.0f} GB/s |",
        f"| bound per forward step, W_hh (1 MiB) read once | {w.numel() * 4 / rate * 1e6:.1f} us |",
        f"| torch.nn.LSTM forward, per step (input projection included) | {t_torch * 1e6:.1f} us |",
        f"| compiled forward, per step | {t_ours * 1e6:.1f} us |",
        f"| 2x faster than torch would need, per step | {t_torch / 2 * 1e6:.1f} us |",
    ]
    text = "\n".join(lines) + "\n"
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
