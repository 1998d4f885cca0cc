"""Mixed bfloat16 against float32: LSTM training time at S2/S3, and each pipeline's held-out metric.

Usage:
    .venv/bin/python benchmarks/bf16.py [--part engine,pipelines] [--shapes S2,S3] [--repeats 5]
                                        [--seeds 0,1] [--threads 1] [--clock cpu]

Engine part: one training step (forward + backward of a fixed weighted sum of the outputs) of a
one-layer LSTM at each shape, the contenders alternated, median of the repeats: `torch.nn.LSTM` in
float32, `torch.nn.LSTM` under `torch.autocast(bfloat16)` (torch casts the cell state to bfloat16
too), and `lstmkit.nn.LSTM` (engine auto) in float32 and under autocast (`lstmkit.kernels.mixed`:
bfloat16 GEMMs, float32 gates and cell state). `--clock cpu` times this thread's CPU seconds
(use with --threads 1 on a shared machine); `wall` the elapsed time.

Pipelines part: `lstmkit <task> train` with --precision fp32 and bf16 for each seed, small settings
(PIPELINES), and the held-out metric each writes to metrics.json; the spread between seeds is the
run-to-run noise the bf16 difference is measured against.

Writes benchmarks/results/bf16.md (with `uptime` and the command) and bf16.json. Never asserts a time.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import lstmkit
from lstmkit.bench import SHAPES
from lstmkit.cli.main import main as cli

RESULTS = Path(__file__).parent / "results"
CONTENDERS = ("torch fp32", "torch autocast bf16", "lstmkit fp32", "lstmkit bf16")
# task -> (command line without --precision/--seed/--out, metric path in metrics.json, higher is better)
PIPELINES = {
    "forecast (air passengers)": (["forecast", "train", "--ensemble", "1", "--peers", "off"], ("lstm", "mase"),
                                  False),
    "classify (movie snippets)": (["classify", "train", "--dataset", "movies", "--epochs", "3"],
                                  ("lstm", "accuracy"), True),
    "transcribe --fsdd (spoken digits)": (["transcribe", "train", "--fsdd", "--epochs", "5"],
                                          ("lstm", "accuracy"), True),
}


def _modules(I, H):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H)
    ours = lstmkit.nn.LSTM(I, H)
    ours.load_state_dict(ref.state_dict())
    return {"torch fp32": (ref, False), "torch autocast bf16": (ref, True),
            "lstmkit fp32": (ours, False), "lstmkit bf16": (ours, True)}


def _step(module, autocast, x, weight):
    module.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y, _ = module(x)
    (y.float() * weight).sum().backward()


def time_shape(name, repeats, clock):
    I, H, B, T = SHAPES[name]
    mods = _modules(I, H)
    x = torch.randn(T, B, I, requires_grad=True)
    weight = torch.randn(T, B, H)
    tick = time.thread_time if clock == "cpu" else time.perf_counter
    times = {c: [] for c in CONTENDERS}
    for c in CONTENDERS:
        _step(*mods[c], x, weight)  # warm-up
    for _ in range(repeats):
        for c in CONTENDERS:
            t = tick()
            _step(*mods[c], x, weight)
            times[c].append(tick() - t)
    return {c: statistics.median(v) for c, v in times.items()}


def run_pipelines(seeds):
    rows = {}
    for task, (args, (group, key), _) in PIPELINES.items():
        for precision in ("fp32", "bf16"):
            for seed in seeds:
                with tempfile.TemporaryDirectory() as out:
                    code = cli([*args, "--precision", precision, "--seed", str(seed), "--out", out, "--quiet"])
                    if code != 0:
                        raise SystemExit(f"{task}: exit status {code}")
                    m = json.loads((Path(out) / "metrics.json").read_text())
                rows.setdefault(task, {}).setdefault(precision, []).append(
                    {"seed": seed, "metric": m[group][key], "train_seconds": m[group].get("train_seconds")})
                print(task, precision, seed, rows[task][precision][-1], flush=True)
    return rows


def _engine_md(engine, clock, threads):
    lines = [f"## Training step (forward + backward), one-layer LSTM, {threads} thread(s), {clock} clock, "
             "median\n", "| shape (I, H, B, T) | " + " | ".join(f"{c} (s)" for c in CONTENDERS)
             + " | lstmkit fp32 / bf16 | torch fp32 / lstmkit bf16 |", "|---" * (len(CONTENDERS) + 3) + "|"]
    for name, t in engine.items():
        lines.append(f"| {name} {SHAPES[name]} | " + " | ".join(f"{t[c]:.3f}" for c in CONTENDERS)
                     + f" | **{t['lstmkit fp32'] / t['lstmkit bf16']:.2f}x** | "
                     f"{t['torch fp32'] / t['lstmkit bf16']:.2f}x |")
    return "\n".join(lines) + "\n"


def _pipelines_md(rows):
    lines = ["## Held-out metric, fp32 vs bf16, same seeds\n",
             "| pipeline (metric) | fp32 per seed | bf16 per seed | fp32 mean | bf16 mean | seed spread "
             "(fp32 max-min) | training s fp32 / bf16 (mean) |", "|---|---|---|---|---|---|---|"]
    for task, by in rows.items():
        metric = PIPELINES[task][1][1]
        f, b = ([r["metric"] for r in by[p]] for p in ("fp32", "bf16"))
        secs = [[r["train_seconds"] for r in by[p]] for p in ("fp32", "bf16")]
        secs = " / ".join("n/a" if None in v else f"{statistics.mean(v):.1f}" for v in secs)
        lines.append(f"| {task} ({metric}) | {', '.join(f'{v:.4f}' for v in f)} | "
                     f"{', '.join(f'{v:.4f}' for v in b)} | {statistics.mean(f):.4f} | {statistics.mean(b):.4f} | "
                     f"{max(f) - min(f):.4f} | {secs} |")
    return "\n".join(lines) + "\n"


def write(engine, rows, a):
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    flags = subprocess.run(["grep", "-o", "-m1", "avx512_bf16", "/proc/cpuinfo"], capture_output=True,
                           text=True).stdout.strip() or "no avx512_bf16"
    head = (f"# bfloat16 against float32\n\nCommand: `{' '.join(sys.argv)}`; torch {torch.__version__}; CPU "
            f"flag {flags}; `uptime` at the end: {uptime}. The 2-core machine was shared with other jobs "
            "(see the load): ratios from the same run hold better than the absolute times.\n\n")
    path = RESULTS / "bf16.md"
    old = json.loads((RESULTS / "bf16.json").read_text()) if (RESULTS / "bf16.json").exists() else {}
    engine, rows = engine or old.get("engine", {}), rows or old.get("pipelines", {})
    body = (_engine_md(engine, a.clock, a.threads) if engine else "") + "\n" + (_pipelines_md(rows) if rows else "")
    path.write_text(head + body, encoding="utf-8")
    (RESULTS / "bf16.json").write_text(json.dumps({"engine": engine, "pipelines": rows}, indent=1))
    print(head + body)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", default="engine,pipelines")
    p.add_argument("--shapes", default="S2,S3")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    parts = a.part.split(",")
    engine = {s: time_shape(s, a.repeats, a.clock) for s in a.shapes.split(",")} if "engine" in parts else {}
    if engine:
        write(engine, {}, a)
    rows = run_pipelines([int(s) for s in a.seeds.split(",")]) if "pipelines" in parts else {}
    write(engine, rows, a)
