"""Engine benchmark: every kernel next to torch.nn.LSTM and a plain autograd loop, in one run.

Usage: .venv/bin/python benchmarks/engine.py [--shapes S1,S2] [--repeats 7] [--threads 2] [--clock cpu]
Writes benchmarks/results/engine.md (linked from the README) and engine.json. Never asserts a time.
"""
import argparse
from pathlib import Path

from lstmkit import bench

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", default=",".join(bench.SHAPES))
    p.add_argument("--modes", default="forward,train")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: this thread's CPU time (use with --threads 1 on a shared, loaded CPU)")
    a = p.parse_args()
    bench.run(a.shapes.split(","), a.modes.split(","), a.repeats, a.threads, a.out, clock=a.clock)
