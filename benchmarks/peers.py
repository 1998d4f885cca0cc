"""lstmkit next to its peers other than torch.nn.LSTM: Keras 3 (torch and JAX backends) and a JAX LSTM
(`lax.scan` under `jax.jit`), measured in one run with the contenders alternated; torch.nn.LSTM is the
common yardstick (ratio = time / torch.nn.LSTM's time in the same run).

Modes: forward (inference) and train (forward + backward; loss = sum of the outputs, gradients of all
weights, none for the input). Shapes and FLOP formula come from `lstmkit.bench`. Before any timing every
contender is checked against torch.nn.LSTM on the same weights: outputs within 1e-4 and, in train mode,
weight gradients within 1e-4 of the largest reference gradient; a failed check stops the run.

JAX and Keras-on-JAX run in their own worker processes (the Keras backend is fixed at import, XLA's flags
are read at start-up) that the main process drives one call at a time over a pipe, so all contenders
still alternate within each repeat. Every process is pinned to the same `--threads` cores: torch runs
that many threads and XLA sizes its default thread pool from the cores it may schedule on.

Usage: .venv/bin/python benchmarks/peers.py [--shapes S1,S2] [--repeats 5] [--threads 2] [--quick]
Writes benchmarks/results/peers.md and peers.json (--quick: S1, 2 repeats, writes only with --out).
Never asserts a time. On a machine whose cores other jobs also use, run it with OMP_WAIT_POLICY=PASSIVE:
torch's OpenMP threads otherwise spin at every barrier of every time step while their partner thread
waits to be scheduled, and 2-thread torch runs hundreds of times slower there (measured: S1 forward
450 ms spinning, 0.9 ms passive, 0.6 ms on one thread); XLA's work-stealing pool has no such barrier.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import lstmkit
from lstmkit import bench
from lstmkit.saving import atomic_write
from lstmkit import nn as lnn
from lstmkit.gates import torch_to_keras

TOL = 1e-4
SLOW_S = 1.0  # a contender whose warm-up call takes longer than this gets at most 3 repeats
SAMPLE_S = 0.05  # one timing sample: as many calls as fit in about this many seconds
WORKERS = {"JAX (lax.scan, jit)": "jax", "Keras 3 (JAX backend, jit)": "keras-jax"}
XLA_FLAGS = os.environ.get("XLA_FLAGS", "")  # default threading unless the caller sets flags


# ---------------------------------------------------------------- worker side (JAX, Keras-on-JAX)

def _jax_lstm(params, x):
    """The standard LSTM (gates i, f, g, o as torch.nn.LSTM) over x (T, B, I) -> outputs (T, B, H).

    params: w_i (I, 4H), w_h (H, 4H), b_ih, b_hh (4H,): torch's weights transposed once, JAX's x @ W form.
    The input projection is computed inside each step, as Keras and Flax do: on XLA's CPU backend that
    measured faster than one GEMM over all steps before the scan (S2 forward: 78 ms against 129 ms).
    """
    import jax
    import jax.numpy as jnp
    w_i, w_h, b_ih, b_hh = params

    def step(carry, x_t):
        h, c = carry
        i, f, g, o = jnp.split(x_t @ w_i + h @ w_h + (b_ih + b_hh), 4, axis=-1)  # (B, H) each
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    h0 = jnp.zeros((x.shape[1], w_h.shape[0]), x.dtype)
    return jax.lax.scan(step, (h0, h0), x)[1]


def _build_jax(d, mode):
    """JAX contender: (jitted fn, args, outputs(result) -> y (T,B,H), grads(result) -> [dW_ih, dW_hh, db])."""
    import jax
    params = tuple(jax.numpy.asarray(w) for w in (d["w_ih"].T.copy(), d["w_hh"].T.copy(), d["b_ih"],
                                                  d["b_hh"]))
    args = (params, jax.numpy.asarray(d["x"]))
    if mode == "forward":
        return jax.jit(_jax_lstm), args, lambda r: r, None
    fn = jax.jit(jax.value_and_grad(lambda p, x: _jax_lstm(p, x).sum()))
    return fn, args, None, lambda r: [r[1][0].T, r[1][1].T, r[1][2]]


def _build_keras_jax(d, mode):
    """Keras 3 LSTM on JAX through `stateless_call` under jit (how Keras' own fit/predict run on JAX)."""
    import jax
    import keras
    T, B, I = d["x"].shape
    layer = keras.layers.LSTM(d["w_hh"].shape[1], return_sequences=True)
    layer.build((B, T, I))
    layer.set_weights([np.asarray(w) for w in torch_to_keras(*(torch.from_numpy(d[k]) for k in
                                                               ("w_ih", "w_hh", "b_ih", "b_hh")))])
    tv = [v.value for v in layer.trainable_variables]  # kernel (I,4H), recurrent_kernel (H,4H), bias
    ntv = [v.value for v in layer.non_trainable_variables]
    args = (tv, ntv, jax.numpy.asarray(d["x"].transpose(1, 0, 2)))  # Keras is batch-first

    def fwd(tv, ntv, x):
        return layer.stateless_call(tv, ntv, x)[0]
    if mode == "forward":
        return jax.jit(fwd), args, lambda r: np.asarray(r).transpose(1, 0, 2), None
    fn = jax.jit(jax.value_and_grad(lambda tv, ntv, x: fwd(tv, ntv, x).sum()))
    return fn, args, None, lambda r: [r[1][0].T, r[1][1].T, r[1][2]]


def _worker_load(kind, path, mode):
    """Compile (timed apart: lower + compile) and check one contender; returns (run, reply)."""
    import jax
    d = dict(np.load(path))
    fn, args, outputs, grads = (_build_jax if kind == "jax" else _build_keras_jax)(d, mode)
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0

    def run():
        return jax.block_until_ready(compiled(*args))
    t0 = time.perf_counter()
    result = run()
    reply = {"compile_s": compile_s, "first_s": time.perf_counter() - t0,
             **_errors(d, mode, result, outputs, grads)}
    return run, reply


def _errors(d, mode, result, outputs, grads):
    """Largest output error (forward) or largest relative weight-gradient error (train) against torch."""
    if mode == "forward":
        return {"error": float(np.abs(np.asarray(outputs(result)) - d["y"]).max())}
    refs = [d["g_w_ih"], d["g_w_hh"], d["g_b"]]
    return {"error": max(float(np.abs(np.asarray(g) - r).max() / np.abs(r).max())
                         for g, r in zip(grads(result), refs))}


def worker(kind):
    """Serve one peer over stdin/stdout: JSON commands `load`, `time`, `quit`, one JSON reply each."""
    try:
        import jax
        version = {"jax": "jax " + jax.__version__}.get(kind)
        if kind == "keras-jax":
            import keras
            version = f"keras {keras.__version__} / jax {jax.__version__}"
    except ImportError as e:
        print(json.dumps({"missing": str(e)}), flush=True)
        return
    jax.devices()  # start the CPU client, so that its thread pool is counted
    print(json.dumps({"version": version, "threads": len(os.listdir("/proc/self/task"))}), flush=True)
    run = None
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            return
        if cmd["op"] == "load":
            run, reply = _worker_load(kind, cmd["path"], cmd["mode"])
        else:
            t0 = time.perf_counter()
            for _ in range(cmd["n"]):
                run()
            reply = {"s": (time.perf_counter() - t0) / cmd["n"]}
        print(json.dumps(reply), flush=True)


# ---------------------------------------------------------------- main side

class Remote:
    """A worker process for one peer; `timed(n)` runs n calls there and returns seconds per call."""

    def __init__(self, kind, env):
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.hello = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"peer worker exited with status {self.proc.wait()}")
        return json.loads(line)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def timed(self, n=1):
        return self.ask(op="time", n=n)["s"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        self.proc.wait()


class Local:
    """A contender in this process: `call()` runs one forward or one training step; `timed(n)` n of them."""

    def __init__(self, call, outputs, grads, params):
        self.call, self.outputs, self.grads, self.params = call, outputs, grads, params

    def timed(self, n=1):
        t0 = time.perf_counter()
        for _ in range(n):
            for p in self.params:  # fresh gradients each step (microseconds next to a step)
                p.grad = None
            self.call()
        return (time.perf_counter() - t0) / n


def _torch_like(m, x, mode):
    """torch.nn.LSTM or lstmkit.nn.LSTM on time-major x."""
    def call():
        if mode == "forward":
            with torch.inference_mode():
                return m(x)[0]
        m(x)[0].sum().backward()
    return Local(call, lambda: m(x)[0].detach(), lambda: [m.weight_ih_l0.grad, m.weight_hh_l0.grad,
                                                         m.bias_ih_l0.grad], list(m.parameters()))


def _keras_torch(d, mode):
    """Keras 3 LSTM on its torch backend, called eagerly as Keras' torch backend runs it by default."""
    import keras
    T, B, I = d["x"].shape
    layer = keras.layers.LSTM(d["w_hh"].shape[1], return_sequences=True)
    layer.build((B, T, I))
    layer.set_weights([w.numpy() for w in torch_to_keras(*(torch.from_numpy(d[k]) for k in
                                                           ("w_ih", "w_hh", "b_ih", "b_hh")))])
    x = torch.from_numpy(d["x"].transpose(1, 0, 2).copy())  # (B, T, I): Keras is batch-first
    k, rk, b = (v.value for v in layer.trainable_variables)

    def call():
        if mode == "forward":
            with torch.inference_mode():
                return layer(x)
        layer(x).sum().backward()
    return Local(call, lambda: layer(x).detach().transpose(0, 1),
                 lambda: [k.grad.T, rk.grad.T, b.grad], [k, rk, b])


def _reference(name, mode, path):
    """torch.nn.LSTM (seed 0), its input, outputs and (train) gradients, saved to `path` for every peer."""
    I, H, B, T = bench.SHAPES[name]
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I)
    y = ref(x)[0]
    d = {k: getattr(ref, f"{attr}_l0").detach().numpy() for k, attr in
         (("w_ih", "weight_ih"), ("w_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh"))}
    d.update(x=x.numpy(), y=y.detach().numpy())
    if mode == "train":
        y.sum().backward()
        d.update(g_w_ih=ref.weight_ih_l0.grad.numpy(), g_w_hh=ref.weight_hh_l0.grad.numpy(),
                 g_b=ref.bias_ih_l0.grad.numpy())
        ref.zero_grad(set_to_none=True)
    np.savez(path, **d)
    return ref, x, d


def _contenders(name, mode, path, remotes, keras_torch):
    """Build every available contender on the same weights and check it.

    Returns:
        (contenders, JIT compile seconds, check error, seconds of the first (checked) call), dicts by label.
    """
    I, H, B, T = bench.SHAPES[name]
    ref, x, d = _reference(name, mode, path)
    cons = {"torch.nn.LSTM": _torch_like(ref, x, mode)}
    for engine in ("auto", "fused"):
        m = lnn.LSTM(I, H, engine=engine)
        m.load_state_dict(ref.state_dict())
        cons[f"lstmkit ({engine})"] = _torch_like(m, x, mode)
    if keras_torch:
        cons["Keras 3 (torch backend)"] = _keras_torch(d, mode)
    compile_s, error, first = {}, {}, {}
    for label, c in cons.items():
        first[label] = c.timed()  # one step: its outputs / gradients are checked, and it warms up
        result = c.outputs().numpy() if mode == "forward" else [g.numpy() for g in c.grads()]
        error[label] = _errors(d, mode, result, lambda r: r, lambda r: r)["error"]
    for label, remote in remotes.items():
        reply = remote.ask(op="load", path=str(path), mode=mode)
        compile_s[label], error[label], first[label] = reply["compile_s"], reply["error"], reply["first_s"]
        cons[label] = remote
    for label, e in error.items():
        assert e < TOL, f"{name} {mode}: {label} differs from torch.nn.LSTM by {e:.2e} (tolerance {TOL})"
    return cons, compile_s, error, first


def bench_shape(name, mode, repeats, remotes, keras_torch, peak, tmp):
    """Median seconds per call for each contender, alternating contenders within each repeat."""
    I, H, B, T = bench.SHAPES[name]
    cons, compile_s, error, first = _contenders(name, mode, Path(tmp) / f"{name}-{mode}.npz", remotes,
                                                keras_torch)
    # A slow first call was warm-up enough; a fast one may still have carried one-time costs.
    warm = {c: first[c] if first[c] > SLOW_S else cons[c].timed() for c in cons}
    n = {c: repeats if warm[c] < SLOW_S else min(repeats, 3) for c in cons}  # slow ones are stable
    # Fast calls are timed in runs of about SAMPLE_S, so that one descheduling on a shared machine is
    # averaged over many calls rather than deciding a sample.
    calls = {c: max(1, round(SAMPLE_S / warm[c])) for c in cons}
    times = {c: [] for c in cons}
    order = list(cons)
    for r in range(repeats):
        for c in order[r % len(order):] + order[:r % len(order)]:  # rotate: no contender always first
            if r < n[c]:
                times[c].append(cons[c].timed(calls[c]))
    base = statistics.median(times["torch.nn.LSTM"])
    flops = bench.lstm_flops(I, H, B, T, mode)
    rows = []
    for c in cons:
        t = statistics.median(times[c])
        rows.append({"shape": name, "mode": mode, "contender": c, "seconds": t, "gflops": flops / t / 1e9,
                     "ratio": t / base, "peak_fraction": flops / t / 1e9 / peak,
                     "compile_s": compile_s.get(c), "repeats": n[c], "check_error": error[c]})
    return rows


def _start_peers(log):
    """Keras on torch (here) and the worker processes; returns (remotes, keras_torch ok, versions)."""
    versions = {}
    try:
        import keras
        keras_torch = keras.backend.backend() == "torch"
        versions["Keras 3 (torch backend)"] = (f"keras {keras.__version__}" if keras_torch else
                                               f"not run: Keras already imported on {keras.backend.backend()}")
    except ImportError:
        keras_torch, versions["Keras 3 (torch backend)"] = False, "not installed"
    log(f"Keras 3 (torch backend): {versions['Keras 3 (torch backend)']}")
    remotes = {}
    for label, kind in WORKERS.items():
        env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": XLA_FLAGS}
        remote = Remote(kind, env)
        if "missing" in remote.hello:
            versions[label] = "not installed"
            remote.close()
        else:
            versions[label] = (f"{remote.hello['version']} (worker: {remote.hello['threads']} threads once "
                               "XLA's CPU client is up)")
            remotes[label] = remote
        log(f"{label}: {versions[label]}")
    return remotes, keras_torch, versions


def to_markdown(rows, peak, settings, shapes):
    """The results file: settings, a ratio summary, then one table per shape."""
    cons = list(dict.fromkeys(r["contender"] for r in rows if r["contender"] != "torch.nn.LSTM"))
    lines = ["# lstmkit next to its peers\n",
             "Generated by `benchmarks/peers.py`; lstmkit's kernels next to torch.nn.LSTM and plain loops are in "
             "[engine.md](engine.md). Times on a shared machine vary from run to run; ratios measured in the "
             "same run, contenders alternated, hold.\n", "## Settings\n", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in settings.items()]
    lines += ["\n## Summary: time / torch.nn.LSTM's time (lower is faster)\n",
              "| shape | mode | " + " | ".join(cons) + " |", "|---|---|" + "---:|" * len(cons)]
    for name in shapes:
        for mode in ("forward", "train"):
            sub = {r["contender"]: r for r in rows if r["shape"] == name and r["mode"] == mode}
            if sub:
                cells = [f"{sub[c]['ratio']:.2f}x" if c in sub else "-" for c in cons]
                lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    for name in shapes:
        I, H, B, T = bench.SHAPES[name]
        lines += [f"\n## {name}: I={I} H={H} B={B} T={T}\n",
                  "| mode | contender | ms | GFLOP/s | ratio vs torch.nn.LSTM | of peak matmul | JIT compile s "
                  "| repeats | check error |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["shape"] == name):
            comp = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
            lines.append(f"| {r['mode']} | {r['contender']} | {r['seconds'] * 1e3:.2f} | {r['gflops']:.1f} | "
                         f"{r['ratio']:.2f}x | {r['peak_fraction']:.0%} | {comp} | {r['repeats']} | "
                         f"{r['check_error']:.1e} |")
    lines.append(HOW)
    return "\n".join(lines) + "\n"


HOW = """
## How each contender runs (CPU, float32)

- **torch.nn.LSTM**: torch's fused LSTM op (oneDNN on CPU). **lstmkit (auto)** picks that same op for a
  plain LSTM (see engine.md), so its ratio shows lstmkit's wrapper overhead; **lstmkit (fused)** is
  lstmkit's own kernel (one input GEMM for all steps, lean recurrent loop, hand-written BPTT).
- **Keras 3 (torch backend)**: `keras.layers.LSTM(H, return_sequences=True)` called eagerly, as Keras runs
  on torch by default. Its cuDNN path needs a GPU, so on CPU it is Keras' generic RNN loop: one Python
  step per time step, autograd for the backward pass. Input batch-first, as Keras expects.
- **JAX (lax.scan, jit)**: the standard equations in `jax.lax.scan`, weights in JAX's `x @ W` layout,
  the input projection inside each step (one GEMM over all steps before the scan measured slower on
  XLA's CPU backend); `jax.jit` (forward), `jax.jit(jax.value_and_grad(...))` (train).
- **Keras 3 (JAX backend, jit)**: the same Keras layer through `stateless_call` under `jax.jit` (how Keras'
  fit/predict run on JAX); on CPU its RNN is `lax.scan` over Keras' cell step.
- JIT compile s: `lower(...).compile()` timed apart; the ms columns are steady-state calls after it.
- Train: loss = sum of the outputs, gradients of all weights (none for the input); GFLOP/s counts the
  nominal 3x forward FLOPs for every contender. Check error: largest output difference to torch.nn.LSTM
  (forward) or largest weight-gradient difference relative to the largest gradient (train); a contender
  over 1e-4 stops the run before timing.
"""


def run(shapes, repeats, threads, out_dir, log=print):
    """Run the benchmark; write peers.md and peers.json to `out_dir` when given. Returns the rows.

    Example:
        >>> rows = run(["S1"], repeats=2, threads=2, out_dir=None)  # doctest: +SKIP
    """
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)  # the workers inherit it: every contender sees the same cores
    torch.set_num_threads(threads)
    peak = bench.matmul_peak(repeats=3)
    log(f"matmul peak: {peak:.0f} GFLOP/s ({threads} threads, cores {cores})")
    remotes, keras_torch, versions = _start_peers(log)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in shapes:
                for mode in ("forward", "train"):
                    for r in bench_shape(name, mode, repeats, remotes, keras_torch, peak, tmp):
                        rows.append(r)
                        comp = f"  compile {r['compile_s']:.2f} s" if r["compile_s"] is not None else ""
                        log(f"{name} {mode:7s} {r['contender']:27s} {r['seconds'] * 1e3:9.2f} ms "
                            f"{r['ratio']:6.2f}x{comp}")
    finally:
        for remote in remotes.values():
            remote.close()
    settings = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, load average "
                   f"{os.getloadavg()[0]:.1f} at the end of the run",
        "cores": f"every process pinned to CPUs {cores} (sched_setaffinity, inherited by the workers)",
        "torch": f"torch {torch.__version__}, torch.set_num_threads({threads}); lstmkit {lstmkit.__version__}",
        "OpenMP": f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: libgomp spins at barriers)')}",
        "XLA": f"XLA_FLAGS={XLA_FLAGS or '(unset)'}: XLA's default intra-op pool, sized from the pinned cores; "
               "`intra_op_parallelism_threads` is not an XLA_FLAGS flag in jaxlib 0.10 (rejected with dashes, "
               "ignored without)",
        **{f"peer: {k}": v for k, v in versions.items()},
        "timing": f"median of {repeats} repeats, contenders alternated in rotating order, after a warm-up call "
                  f"(at most 3 repeats for a contender whose warm-up took over {SLOW_S:.0f} s); a repeat of a "
                  f"fast contender times as many calls as fit in {SAMPLE_S * 1e3:.0f} ms; float32; "
                  f"best torch.mm rate {peak:.0f} GFLOP/s",
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "peers.md", to_markdown(rows, peak, settings, shapes))
        atomic_write(out / "peers.json", json.dumps(
            {"peak_gflops": peak, "settings": settings, "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", default=",".join(bench.SHAPES))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="S1 only, 2 repeats; writes files only with --out")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results, none with --quick)")
    p.add_argument("--worker", choices=sorted(set(WORKERS.values())), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.worker)
    else:
        os.environ["KERAS_BACKEND"] = "torch"  # before the first import of keras, in _start_peers
        shapes = ["S1"] if a.quick else a.shapes.split(",")
        out = a.out or (None if a.quick else Path(__file__).parent / "results")
        run(shapes, 2 if a.quick else a.repeats, a.threads, out)
