"""torch.nn.LSTM and lstmkit's compiled kernel alone, side by side, alternated: a short run for a loaded CPU.

`engine.py` times every contender; this times only the two, best and median of `--repeats`
alternated calls each, forward (inference) and train (forward + backward), at S1 and S4.
With --threads 1 it counts this thread's CPU time; with more threads, wall-clock time.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/compiled_pair.py [--threads 1,2] [--repeats 15]
Writes benchmarks/results/compiled_pair.md. Never asserts a time.
"""
import argparse
import os
import statistics
import time
from pathlib import Path

import torch

import lstmkit
from lstmkit.bench import SHAPES


def pair(name, threads, repeats):
    """[(mode, torch times, compiled times)] for one shape, each a list of seconds."""
    torch.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    I, H, B, T = SHAPES[name]
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H)
    ours = lstmkit.nn.LSTM(I, H, engine="compiled")
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, I)
    xg = x.clone().requires_grad_()

    def forward(m):
        with torch.inference_mode():
            m(x)

    def train(m):
        y, (h, _) = m(xg)
        (y.sum() + h.sum()).backward()

    out = []
    for mode, fn in (("forward", forward), ("train", train)):
        times = {"torch": [], "compiled": []}
        fn(ref), fn(ours)  # warm-up
        for _ in range(repeats):
            for key, m in (("torch", ref), ("compiled", ours)):
                t0 = clock()
                fn(m)
                times[key].append(clock() - t0)
        out.append((mode, times["torch"], times["compiled"]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--shapes", default="S1,S4")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "compiled_pair.md"))
    a = p.parse_args(argv)
    load = os.getloadavg()[0]
    lines = ["# torch.nn.LSTM and the compiled kernel, side by side\n",
             f"torch {torch.__version__}, float32, CPU; load average {load:.1f} at the start (the 2-core CPU "
             f"was shared with other jobs); {a.repeats} alternated calls each; 1 thread: CPU time, "
             "2 threads: wall clock.\n",
             f"Command: `PYTHONPATH=src .venv/bin/python benchmarks/compiled_pair.py --threads {a.threads} "
             f"--repeats {a.repeats}`\n",
             "| shape | threads | mode | torch best ms | compiled best ms | ratio of bests | ratio of medians |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for threads in map(int, a.threads.split(",")):
        for name in a.shapes.split(","):
            for mode, t, c in pair(name, threads, a.repeats):
                med = statistics.median(c) / statistics.median(t)
                lines.append(f"| {name} | {threads} | {mode} | {min(t) * 1e3:.3f} | {min(c) * 1e3:.3f} | "
                             f"{min(c) / min(t):.2f}x | {med:.2f}x |")
                print(lines[-1], flush=True)
                Path(a.out).write_text("\n".join(lines) + "\n")  # each row as it comes: a time limit keeps the rest


if __name__ == "__main__":
    main()
