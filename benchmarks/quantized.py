"""Held-out accuracy of task models in float32 and after int8 dynamic quantization (`lstmkit.quantize`), in one run.

- classify: a bidirectional-LSTM sentiment classifier trained on a VADER set (`load_vader`), scored on
  its held-out test split: accuracy and macro-F1, float vs int8, and how many labels change.
- forecast: the LSTM ensemble trained on AirPassengers (bundled), backtested on its held-out last
  steps: MASE and sMAPE of the median forecast and the interval coverage, float vs int8, and the
  largest relative change of a forecast value.

The int8 model is the float model's networks through `lstmkit.quantize` (LSTMs and Linears with int8
weights, activations quantized per call; the embedding stays float), everything else unchanged.
Prediction time is measured too (same run, alternated, median of 3): classify over the test split,
forecast one 12-step forecast (its recursive or direct steps through the ensemble).

Usage: .venv/bin/python benchmarks/quantized.py [--dataset tweets] [--epochs 10] [--threads 1]
Writes benchmarks/results/quantized.md. Never asserts anything.
"""
import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import lstmkit
from lstmkit.data.series import load_dataset
from lstmkit.data.text_datasets import load_vader
from lstmkit.saving import atomic_write
from lstmkit.tasks import classify, forecast
from lstmkit.tasks.classify.baselines import scores

OUT = Path(__file__).parent / "results" / "quantized.md"


def _timed(fns, repeats=3):
    """name -> median seconds of fn(), the contenders alternated."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def classify_rows(dataset, epochs, seed):
    data = load_vader(dataset)
    config = classify.Config(epochs=epochs, seed=seed)
    clf = classify.train(data, config, verbose=0)
    q = classify.Classifier([lstmkit.quantize(m.module) for m in clf.models], clf.encoder, clf.labels, config)
    _, _, test = classify.split(data, config)
    labels = sorted(set(data.labels))
    preds = {name: [y for y, _ in model.predict(test.texts)] for name, model in (("float32", clf), ("int8", q))}
    probs = {name: model.predict_proba(test.texts) for name, model in (("float32", clf), ("int8", q))}
    seconds = _timed({name: (lambda m=model: m.predict(test.texts)) for name, model in (("float32", clf), ("int8", q))})
    changed = sum(a != b for a, b in zip(preds["float32"], preds["int8"]))
    rows = []
    for name in ("float32", "int8"):
        s = scores(test.labels, preds[name], labels)
        rows.append((f"classify {dataset} (test {len(test)})", name, f"accuracy {s['accuracy']:.4f}",
                     f"macro-F1 {s['macro_f1']:.4f}", f"{seconds[name]:.2f}"))
    diff = float(np.abs(probs["int8"] - probs["float32"]).max())
    return rows, f"classify {dataset}: {changed} of {len(test)} labels change; max |p_int8 - p_float| = {diff:.4f}"


def forecast_rows(seed):
    config = forecast.Config(target="passengers", seed=seed, peers="off")  # the LSTM's metrics only
    f = forecast.train(load_dataset("airpassengers")[0], config, verbose=0)
    float_net = f.net
    q_net = lstmkit.quantize(float_net)

    def backtest(net):
        f.net = net
        return f.backtest()
    results = {"float32": backtest(float_net), "int8": backtest(q_net)}

    def forecast_with(net):
        f.net = net
        return f.predict()
    seconds = _timed({name: (lambda n=net: forecast_with(n)) for name, net in (("float32", float_net),
                                                                               ("int8", q_net))})
    rows = []
    for name, bt in results.items():
        m = bt.metrics["lstm"]
        rows.append((f"forecast airpassengers ({len(bt.origins)} origins)", name, f"MASE {m['mase']:.4f}",
                     f"sMAPE {m['smape']:.3f}, coverage {bt.coverage:.3f}", f"{seconds[name]:.2f}"))
    a, b = results["float32"].quantiles, results["int8"].quantiles
    rel = float((np.abs(b - a) / np.abs(a)).max())
    return rows, f"forecast: largest relative change of a forecast value (any quantile) int8 vs float: {rel:.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="tweets", choices=("tweets", "movies"))
    parser.add_argument("--epochs", type=int, default=10, help="classify: most epochs (early stopping)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows, notes = [], []
    for part in (lambda: classify_rows(args.dataset, args.epochs, args.seed), lambda: forecast_rows(args.seed)):
        r, note = part()
        rows += r
        notes.append(note)
        print("\n".join(" | ".join(x) for x in r), "\n" + note, flush=True)
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = ["| task (held-out data) | weights | metric | more | predict seconds |", "|---|---|---|---|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join([
        "# Quantized accuracy: float32 vs int8 dynamic quantization on task data", "",
        f"Command: `{Path(sys.executable).name} benchmarks/quantized.py " + " ".join(argv or sys.argv[1:]) + "`",
        f"torch {torch.__version__}, {platform.machine()}, {args.threads} torch thread(s), seed {args.seed}.",
        f"Load before: `{load_before}`", f"Load after: `{load_after}`",
        "The machine is shared with other jobs: the seconds vary; the metrics do not.", "",
        *lines, "", *[f"- {n}" for n in notes], ""])
    atomic_write(OUT, text)
    print(text)


if __name__ == "__main__":
    main()
