"""Inference latency and throughput of one LSTM layer under the deployment runtimes, in one run.

Contenders (every one checked against torch.nn.LSTM's output for the same weights before timing):
torch eager (`torch.nn.LSTM`), `torch.compile` of it (dynamo does not trace torch's RNN modules, so
this is eager behind a graph break), `torch.compile` of `lstmkit.nn.LSTM` (lstmkit's fused kernel as
one custom op), lstmkit eager (`engine="auto"`), int8 dynamic quantization (`lstmkit.quantize`, torch's
quantized LSTM op) and onnxruntime (the graph from `torch.onnx.export`, ONNX's LSTM op).

Shapes: S1 (I=1 H=50 T=50) and S4 (I=64 H=256 T=1000), batch 1 and 32. Latency is the median time of
one call over the repeats, the contenders alternated within each repeat; throughput is sequences per
second (B / latency). Ratios are to torch eager in the same run.

Then the prediction server under load (`deploy_server.py`): requests/s and p50/p99 latency of
`lstmkit serve` under 1, 8 and 32 concurrent loopback clients, for a forecast and a classify model.

Usage: .venv/bin/python benchmarks/deploy.py [--repeats 5] [--threads 1] [--shapes S1,S4]
       [--only runtimes|server] [--server-seconds 10]
Writes benchmarks/results/deploy.md: one section per part; a part run alone (`--only`) replaces its
own section and keeps the other's. Never asserts a time.
"""
import argparse
import logging
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import aiohttp
import fastapi
import onnxruntime as ort
import torch

import lstmkit
from lstmkit.saving import atomic_write
from deploy_server import goals as server_goals
from deploy_server import measure as measure_server
from deploy_server import table as server_table

SHAPES = {"S1": (1, 50, 50), "S4": (64, 256, 1000)}  # name: (I, H, T)
BATCHES = (1, 32)
CONTENDERS = ("torch eager", "torch.compile(torch.nn.LSTM)", "torch.compile(lstmkit)", "lstmkit auto",
              "lstmkit int8", "onnxruntime")
OUT = Path(__file__).parent / "results" / "deploy.md"


class Last(torch.nn.Module):
    """An LSTM returning only its output sequence: the graph every runtime runs."""

    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        return self.lstm(x)[0]


def contenders(I, H, threads, example):
    """name -> callable(x (T, B, I) tensor) -> output (T, B, H), all with the same weights."""
    torch.manual_seed(0)
    ref = Last(torch.nn.LSTM(I, H)).eval()
    ours = Last(lstmkit.nn.LSTM(I, H)).eval()
    ours.lstm.load_state_dict(ref.lstm.state_dict())
    quantized = lstmkit.quantize(ours)
    session = _onnx_session(ours, example, threads)
    return {
        "torch eager": ref,
        "torch.compile(torch.nn.LSTM)": torch.compile(ref, dynamic=False),
        "torch.compile(lstmkit)": torch.compile(ours, dynamic=False),
        "lstmkit auto": ours,
        "lstmkit int8": quantized,
        "onnxruntime": lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0]),
    }


def _onnx_session(model, example, threads):
    path = Path(tempfile.mkdtemp()) / "lstm.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "time", 1: "batch"}})
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_calls(fn, x, budget=0.2):
    """Seconds per call: as many calls as fit in about `budget` seconds (at least one)."""
    start, calls = time.perf_counter(), 0
    while True:
        fn(x)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return elapsed / calls


def measure(shape, B, repeats, threads):
    """Rows for one shape and batch size: name, latency (s), max |output - torch eager|."""
    I, H, T = SHAPES[shape]
    torch.manual_seed(1)
    x = torch.randn(T, B, I)
    fns = contenders(I, H, threads, x)
    with torch.no_grad():
        want = fns["torch eager"](x)
        errors = {name: (fn(x) - want).abs().max().item() for name, fn in fns.items()}  # also warms up
        for fn in fns.values():
            fn(x)
        times = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                times[name].append(time_calls(fn, x))
    return [(name, statistics.median(times[name]), errors[name]) for name in fns]


def table(results):
    lines = ["| shape | batch | runtime | latency (ms) | sequences/s | time / torch eager | max abs diff |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for (shape, B), rows in results.items():
        base = dict((n, t) for n, t, _ in rows)["torch eager"]
        best = min(t for _, t, _ in rows)
        for name, t, err in rows:
            mark = "**" if t == best else ""
            lines.append(f"| {shape} | {B} | {name} | {mark}{t * 1e3:.3f}{mark} | {B / t:,.0f} | "
                         f"{t / base:.2f}x | {err:.1e} |")
    return "\n".join(lines)


def winners(results):
    lines = []
    for (shape, B), rows in results.items():
        name, t, _ = min(rows, key=lambda r: r[1])
        lines.append(f"- {shape} batch {B}: fastest is {name} ({t * 1e3:.3f} ms)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", default="S1,S4")
    parser.add_argument("--only", choices=("runtimes", "server"), help="run one part; deploy.md keeps the other's")
    parser.add_argument("--server-seconds", type=float, default=10, help="seconds of load per client count")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)
    command = f"`{Path(sys.executable).name} benchmarks/deploy.py " + " ".join(argv or sys.argv[1:]) + "`"
    if args.only != "server":
        write_section("runtimes", runtimes(args, command))
    if args.only != "runtimes":
        write_section("server", server(args, command))
    print(OUT.read_text())


def runtimes(args, command):
    """The runtime table's section of deploy.md."""
    load_before = uptime()
    results = {}
    for shape in args.shapes.split(","):
        for B in BATCHES:
            results[(shape, B)] = measure(shape, B, args.repeats, args.threads)
            print(f"{shape} B={B}: " + ", ".join(f"{n} {t * 1e3:.3f} ms" for n, t, _ in results[(shape, B)]),
                  flush=True)
    load_after = uptime()
    return "\n".join([
        "# Deploy: inference latency by runtime", "",
        f"Command: {command}",
        f"torch {torch.__version__}, onnxruntime {ort.__version__}, {platform.machine()}, "
        f"{args.threads} thread(s) for torch and onnxruntime, float32 (int8 weights for the int8 row), "
        f"median of {args.repeats} alternated repeats.",
        f"Load before: `{load_before}`", f"Load after: `{load_after}`",
        "The machine is shared with other jobs: absolute times vary; ratios from the same run hold better.",
        "", table(results), "", "Fastest per row (bold in the table):", winners(results), ""])


def server(args, command):
    """The server load test's section of deploy.md."""
    load_before = uptime()
    results = measure_server(args.server_seconds, args.threads)
    return "\n".join([
        "## The prediction server under load", "",
        f"Command: {command}",
        f"`lstmkit serve` (uvicorn, FastAPI {fastapi.__version__}) with `--threads {args.threads}`, "
        f"in its own process; the clients (aiohttp {aiohttp.__version__}, asyncio) in the benchmark's process, over "
        f"loopback, {args.server_seconds:g} s per row after a warm-up. Forecast: 12 months after 48 (ensemble "
        "of 3 LSTMs, H=64); classify: one movie snippet a request (BiLSTM, H=64).",
        f"Load before: `{load_before}`", f"Load after: `{uptime()}`",
        "Server and clients share the 2 cores with each other and with other jobs on the machine.",
        "", server_table(results), "", "Goals at 32 clients:", server_goals(results), ""])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def write_section(name: str, text: str) -> None:
    """Put `text` in deploy.md between `<!-- name -->` markers, keeping the rest of the file."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    old = OUT.read_text() if OUT.exists() else ""
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block
    atomic_write(OUT, new.strip() + "\n")


if __name__ == "__main__":
    main()
