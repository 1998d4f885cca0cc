"""Where the variants' fused kernel spends its time: torch.profiler over training steps at S2.

Usage: .venv/bin/python benchmarks/profile_variants.py [--variant peephole] [--engine fused] [--steps 3] [--threads 1] [--min]
Writes benchmarks/results/engine_variants_profile.md (with --engine compiled:
engine_variants_profile_compiled.md): the top operators by self CPU time, for the variant kernel, the
plain loop and torch.nn.LSTM in the same run, and the number of operator calls per time step.
With --min: minLSTM's scan training at I=H=256 B=8 T=1024 instead, into engine_min_profile.md.
"""
import argparse
import os
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from lstmkit import nn as lnn
from lstmkit.bench import SHAPES
from lstmkit.bench_variants import VARIANTS


def table(module, x, steps):
    module(x)[0].sum().backward()  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            module(x)[0].sum().backward()
    events = prof.key_averages()
    calls = sum(e.count for e in events if not e.key.startswith(("autograd::", "ProfilerStep")))
    return events.table(sort_by="self_cpu_time_total", row_limit=12), calls


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="peephole", choices=list(VARIANTS))
    p.add_argument("--engine", default="fused", choices=("fused", "compiled"))
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min", action="store_true", help="profile minLSTM's scan instead")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.min:
        return profile_min(a)
    I, H, B, T = SHAPES["S2"]
    x = torch.randn(T, B, I)
    lines = [f"# Profile: `{a.variant}` on the {a.engine} variant kernel, S2 (I={I} H={H} B={B} T={T}), training\n",
             f"torch {torch.__version__}, {a.threads} thread(s), {a.steps} steps; load average "
             f"{os.getloadavg()[0]:.1f} (a CPU shared with other jobs). Command: benchmarks/profile_variants.py "
             f"--variant '{a.variant}' --engine {a.engine}\n"]
    for name, module in ((f"lstmkit {a.engine} variant kernel", lnn.LSTM(I, H, engine=a.engine, **VARIANTS[a.variant])),
                         ("plain autograd loop (reference kernel)", lnn.LSTM(I, H, engine="reference",
                                                                            **VARIANTS[a.variant])),
                         ("torch.nn.LSTM (vanilla)", torch.nn.LSTM(I, H))):
        text, calls = table(module, x, a.steps)
        lines += [f"\n## {name}: {calls / (a.steps * T):.0f} operator calls per time step\n", "```", text, "```"]
    suffix = "" if a.engine == "fused" else f"_{a.engine}"
    out = Path(__file__).parent / "results" / f"engine_variants_profile{suffix}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def profile_min(a):
    x = torch.randn(1024, 8, 256)
    text, calls = table(lnn.MinLSTM(256, 256), x, a.steps)
    lines = ["# Profile: minLSTM training as a scan, I=H=256 B=8 T=1024\n",
             f"torch {torch.__version__}, {a.threads} thread(s), {a.steps} steps; load average "
             f"{os.getloadavg()[0]:.1f} (a CPU shared with other jobs). Command: benchmarks/profile_variants.py "
             "--min\n", "```", text, "```"]
    (Path(__file__).parent / "results" / "engine_min_profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
