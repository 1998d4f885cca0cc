"""Training and prediction throughput of the classic Keras example model (LSTM(50) + Dense(1), RMSprop,
MSE) in lstmkit, next to a hand-written PyTorch loop (nn.LSTM + nn.Linear + RMSprop) and Keras 3 on
its torch backend when Keras is installed, measured in one run, alternating the contenders.

Workload: one epoch over 10,000 windows of length 50 (one feature), batch 32, shuffled; predict over
the same windows, batch 32. Reports samples/s (median of the repeats) and ratios to the hand loop.

Usage: .venv/bin/python benchmarks/fit.py [--repeats 3] [--threads 1] [--no-keras]
Writes benchmarks/results/fit.md. Never asserts a time.
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.layers import LSTM, Dense  # noqa: E402
from lstmkit.models import Sequential  # noqa: E402

N, T, UNITS, BATCH = 10_000, 50, 50, 32


def windows(seed=0):
    """10,000 windows of a noisy sine: (N, T, 1) inputs and the next value (N, 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(N + T + 1)
    s = (np.sin(t / 20) + 0.1 * rng.standard_normal(len(t))).astype("float32")
    x = np.lib.stride_tricks.sliding_window_view(s[:-1], T)[:N, :, None].copy()
    return x, s[T:T + N, None].copy()


def lstmkit_model():
    model = Sequential()
    model.add(LSTM(UNITS, input_shape=(None, 1)))
    model.add(Dense(1))
    model.compile(optimizer="rmsprop", loss="mse")
    return model


class HandModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(1, UNITS, batch_first=True)
        self.dense = torch.nn.Linear(UNITS, 1)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.dense(y[:, -1])


def hand_fit(model, opt, x, y):
    """The loop people write: shuffle indices, slice, forward, MSE, backward, step."""
    model.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), BATCH):
        idx = perm[i:i + BATCH]
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def hand_predict(model, x):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def keras_contender():
    try:
        import keras
    except ImportError:
        return None
    if keras.backend.backend() != "torch":
        return None
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(UNITS), keras.layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    return keras.__version__, model


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(repeats, use_keras):
    x, y = windows()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lk = lstmkit_model()
    hand = HandModel()
    hand_opt = torch.optim.RMSprop(hand.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    keras_ = keras_contender() if use_keras else None
    contenders = {
        "lstmkit": (lambda: lk.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
                    lambda: lk.predict(x, batch_size=BATCH)),
        "hand-written torch loop": (lambda: hand_fit(hand, hand_opt, xt, yt), lambda: hand_predict(hand, xt)),
    }
    if keras_ is not None:
        km = keras_[1]
        contenders[f"Keras {keras_[0]} (torch backend)"] = (
            lambda: km.fit(x, y, batch_size=BATCH, epochs=1, verbose=0),
            lambda: km.predict(x, batch_size=BATCH, verbose=0))
    times = {k: {"fit": [], "predict": []} for k in contenders}
    for fit, predict in contenders.values():  # warm-up: first calls allocate and build
        fit(), predict()
    for _ in range(repeats):
        for name, (fit, predict) in contenders.items():
            times[name]["fit"].append(timed(fit))
            times[name]["predict"].append(timed(predict))
    return {k: {m: N / statistics.median(v) for m, v in d.items()} for k, d in times.items()}


def report(rates, threads, repeats):
    base = rates["hand-written torch loop"]
    lines = ["# fit / predict throughput (samples/s)", "",
             f"LSTM({UNITS}) + Dense(1), RMSprop, MSE; one epoch over {N:,} windows of length {T}, "
             f"batch {BATCH}; median of {repeats} repeats after a warm-up, contenders alternating; "
             f"torch {torch.__version__}, {threads} thread(s), {platform.processor() or platform.machine()}.",
             "", "| contender | fit samples/s | fit vs hand loop | predict samples/s | predict vs hand loop |",
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
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-keras", action="store_true")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fit.md"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    lstmkit.set_seed(0)
    rates = measure(a.repeats, not a.no_keras)
    text = report(rates, a.threads, a.repeats)
    print(text)
    print(json.dumps(rates))
    out = Path(a.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
