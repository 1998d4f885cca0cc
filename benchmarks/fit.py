"""Training and prediction throughput of Keras-style models in lstmkit, next to a hand-written
PyTorch loop (torch.nn modules, the same optimizer) and Keras 3 on its torch backend when Keras is
installed, measured in one run, alternating the contenders.

Workloads:
- seed: the classic Keras example, LSTM(50) + Dense(1), RMSprop, MSE; one epoch over 10,000
  windows of length 50 (one feature), batch 32, shuffled.
- text: a stacked bidirectional text classifier, Embedding(2000, 32) -> Bidirectional(LSTM(32,
  return_sequences=True)) -> Bidirectional(LSTM(16)) -> Dense(1, sigmoid), Adam, binary
  cross-entropy; one epoch over 2,000 sequences of 60 token ids, batch 32, shuffled.
Predict runs over the same inputs, batch 32. Reports samples/s (median of the repeats) and ratios.

Usage: .venv/bin/python benchmarks/fit.py [--workload seed|text|all] [--repeats 3] [--threads 1] [--no-keras]
Writes benchmarks/results/fit.md. Never asserts a time.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding, Input  # noqa: E402
from lstmkit.models import Sequential  # noqa: E402

BATCH = 32
SEED = {"n": 10_000, "steps": 50, "units": 50}
TEXT = {"n": 2_000, "steps": 60, "vocab": 2_000, "embed": 32, "units": (32, 16)}


def seed_data(rng):
    """Windows of a noisy sine: (N, T, 1) inputs and the next value (N, 1)."""
    n, steps = SEED["n"], SEED["steps"]
    t = np.arange(n + steps + 1)
    s = (np.sin(t / 20) + 0.1 * rng.standard_normal(len(t))).astype("float32")
    x = np.lib.stride_tricks.sliding_window_view(s[:-1], steps)[:n, :, None].copy()
    return x, s[steps:steps + n, None].copy()


def text_data(rng):
    """Token ids (N, T) in [1, vocab) and 0/1 labels (N, 1): positive when most ids are below 1000."""
    x = rng.integers(1, TEXT["vocab"], (TEXT["n"], TEXT["steps"]))
    return x, ((x < 1000).mean(1, keepdims=True) > 0.5).astype("float32")


def seed_lstmkit():
    model = Sequential([LSTM(SEED["units"], input_shape=(None, 1)), Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def text_lstmkit():
    a, b = TEXT["units"]
    model = Sequential([Input((None,), dtype="int64"), Embedding(TEXT["vocab"], TEXT["embed"]),
                        Bidirectional(LSTM(a, return_sequences=True)), Bidirectional(LSTM(b)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


class SeedHand(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(1, SEED["units"], batch_first=True)
        self.dense = torch.nn.Linear(SEED["units"], 1)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.dense(y[:, -1])


class TextHand(torch.nn.Module):
    def __init__(self):
        super().__init__()
        a, b = TEXT["units"]
        self.embed = torch.nn.Embedding(TEXT["vocab"], TEXT["embed"])
        self.first = torch.nn.LSTM(TEXT["embed"], a, batch_first=True, bidirectional=True)
        self.second = torch.nn.LSTM(2 * a, b, batch_first=True, bidirectional=True)
        self.dense = torch.nn.Linear(2 * b, 1)

    def forward(self, x):
        y, _ = self.first(self.embed(x))
        _, (h, _) = self.second(y)
        return torch.sigmoid(self.dense(torch.cat([h[0], h[1]], -1)))  # forward last, backward first


def hand_fit(model, opt, loss_fn, x, y):
    """The loop people write: shuffle indices, slice, forward, loss, backward, step."""
    model.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), BATCH):
        idx = perm[i:i + BATCH]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def hand_predict(model, x):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def keras_model(workload):
    try:
        import keras
    except ImportError:
        return None
    if keras.backend.backend() != "torch":
        return None
    L = keras.layers
    if workload == "seed":
        model = keras.Sequential([keras.Input((None, 1)), L.LSTM(SEED["units"]), L.Dense(1)])
        model.compile(optimizer="rmsprop", loss="mse")
    else:
        a, b = TEXT["units"]
        model = keras.Sequential([keras.Input((None,), dtype="int64"), L.Embedding(TEXT["vocab"], TEXT["embed"]),
                                  L.Bidirectional(L.LSTM(a, return_sequences=True)), L.Bidirectional(L.LSTM(b)),
                                  L.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
    return keras.__version__, model


def contenders(workload, use_keras):
    rng = np.random.default_rng(0)
    x, y = (seed_data if workload == "seed" else text_data)(rng)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lk = (seed_lstmkit if workload == "seed" else text_lstmkit)()
    hand = SeedHand() if workload == "seed" else TextHand()
    if workload == "seed":  # Keras' RMSprop and Adam defaults
        opt, loss_fn = torch.optim.RMSprop(hand.parameters(), lr=1e-3, alpha=0.9, eps=1e-7), torch.nn.functional.mse_loss
    else:
        opt = torch.optim.Adam(hand.parameters(), lr=1e-3, eps=1e-7)
        loss_fn = lambda p, t: torch.nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), t)  # noqa: E731
    out = {"lstmkit": (lambda: lk.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
                       lambda: lk.predict(x, batch_size=BATCH, verbose=0)),
           "hand-written torch loop": (lambda: hand_fit(hand, opt, loss_fn, xt, yt), lambda: hand_predict(hand, xt))}
    made = keras_model(workload) if use_keras else None
    if made is not None:
        version, km = made
        out[f"Keras {version} (torch backend)"] = (lambda: km.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
                                                   lambda: km.predict(x, batch_size=BATCH, verbose=0))
    return out, len(x)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(workload, repeats, use_keras):
    runs, n = contenders(workload, use_keras)
    times = {k: {"fit": [], "predict": []} for k in runs}
    for fit, predict in runs.values():  # warm-up: first calls allocate and build
        fit(), predict()
    for _ in range(repeats):
        for name, (fit, predict) in runs.items():
            times[name]["fit"].append(timed(fit))
            times[name]["predict"].append(timed(predict))
    return {k: {m: n / statistics.median(v) for m, v in d.items()} for k, d in times.items()}


DESCRIBE = {
    "seed": f"LSTM({SEED['units']}) + Dense(1), RMSprop, MSE; one epoch over {SEED['n']:,} windows of length "
            f"{SEED['steps']}, batch {BATCH}",
    "text": f"Embedding({TEXT['vocab']}, {TEXT['embed']}) -> Bidirectional(LSTM({TEXT['units'][0]}, "
            f"return_sequences=True)) -> Bidirectional(LSTM({TEXT['units'][1]})) -> Dense(1, sigmoid), Adam, "
            f"binary cross-entropy; one epoch over {TEXT['n']:,} sequences of {TEXT['steps']} ids, batch {BATCH}",
}


def report(results, threads, repeats, command):
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = ["# fit / predict throughput (samples/s)", "",
             f"Median of {repeats} repeats after a warm-up, contenders alternating; torch {torch.__version__}, "
             f"{threads} thread(s), {platform.processor() or platform.machine()}. The machine is shared "
             "with other work: absolute rates move from run to run, ratios from one run hold better.", "",
             f"Command: `{command}`", f"Load at the end of the run: `{load}`"]
    for workload, rates in results.items():
        base = rates["hand-written torch loop"]
        lines += ["", f"## {workload}: {DESCRIBE[workload]}", "",
                  "| contender | fit samples/s | fit vs hand loop | predict samples/s | predict vs hand loop |",
                  "|---|---:|---:|---:|---:|"]
        for name, r in rates.items():
            lines.append(f"| {name} | {r['fit']:,.0f} | {r['fit'] / base['fit']:.2f}x | "
                         f"{r['predict']:,.0f} | {r['predict'] / base['predict']:.2f}x |")
        keras_rows = [k for k in rates if k.startswith("Keras")]
        if keras_rows:
            k = rates[keras_rows[0]]
            lines += ["", f"lstmkit vs Keras: fit {rates['lstmkit']['fit'] / k['fit']:.1f}x, "
                          f"predict {rates['lstmkit']['predict'] / k['predict']:.1f}x."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workload", choices=["seed", "text", "all"], default="all")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fit.md"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    lstmkit.set_seed(0)
    results = {w: measure(w, a.repeats, not a.no_keras)
               for w in (["seed", "text"] if a.workload == "all" else [a.workload])}
    text = report(results, a.threads, a.repeats, "python benchmarks/fit.py " + " ".join(sys.argv[1:]))
    print(text)
    print(json.dumps(results))
    out = Path(a.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
