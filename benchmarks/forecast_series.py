"""The default `lstmkit forecast train` run on every named series: wall and CPU seconds of the whole
command, the LSTM's backtest MASE next to the baselines', and statsforecast's MSTL, AutoARIMA and
AutoETS on a subset of the same windows (every k-th origin, at most 13: their `forward` re-fits at
each origin and takes seconds there on the long series). The LSTM's MASE on that subset is given too,
so the peers' column is compared like with like. Previous-release figures are read from
benchmarks/results/forecast_series_old.json (measured with that release; see its "source").

    PYTHONPATH=src python benchmarks/forecast_series.py [--only NAME ...] [--no-peers] [--report]

Writes benchmarks/results/forecast_series.md (and forecast_series/NAME.json) with the machine's load; the CPU is
shared with other jobs, so wall times vary; CPU seconds are steadier.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.series import load_dataset
from lstmkit.tasks.forecast.metrics import mase_scale
from lstmkit.tasks.forecast.peers import PEERS, peer_models

RESULTS = Path(__file__).parent / "results"
RUNS = {"airpassengers": [], "msft": [], "seattle-weather": [], "sunspots": [], "elecdemand": [],
        "elecdemand+WorkDay": ["--future-covariates", "WorkDay"], "co2": [], "seattle-temps": []}
MAX_PEER_ORIGINS = 13
NOTES = [  # measurements made outside this script, kept with the table
    "seattle-temps on a quiet machine (load below 1): `lstmkit forecast train --dataset seattle-temps --peers off` "
    "took 23.0 s wall, 23.1 s user CPU, MASE 0.416: under the 60 s goal for a year of hourly data.",
    "elecdemand+WorkDay: MSTL sees the demand only (no covariate), so its column equals elecdemand's.",
]
PEERS_MAX_STEPS = 2000  # beyond (co2, elecdemand, seattle-temps), AutoARIMA and AutoETS fits take minutes: MSTL only


def run_cli(name, extra, out):
    """The default command; returns (wall s, CPU s of the child, metrics, run directory)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "lstmkit.cli.main", "forecast", "train", "--dataset", name.split("+")[0],
           "--peers", "off", "--quiet", "--out", out, *extra]
    subprocess.run(cmd, check=True, env=os.environ)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(Path(out, "metrics.json").read_text())


def mase(actual, pred, scale):
    return float((np.abs(actual - pred).mean((0, 1)) / scale).mean())


def peers_on_subset(name, out):
    """MASE of the LSTM and of each statsforecast peer on every k-th backtest origin."""
    frame, spec = load_dataset(name.split("+")[0])
    config = json.loads(Path(out, "model", "config.json").read_text())
    prep = json.loads(Path(out, "model", "preprocessing.json").read_text())
    cfg = config.get("config", config)
    values = frame[list(spec.target)].to_numpy(float)
    H, n_fit, season = cfg["horizon"], len(values) - cfg["test_size"], prep["season"]
    bt = pd.read_csv(Path(out, "backtest.csv"))
    lstm = bt["lstm"].to_numpy().reshape(-1, H, len(spec.target))
    origins = np.arange(n_fit - 1, len(values) - H)
    pick = np.arange(0, len(origins), -(-len(origins) // MAX_PEER_ORIGINS))
    actual = values[origins[pick, None] + np.arange(1, H + 1)]
    scale = mase_scale(values[:n_fit], season)
    row = {"origins": len(pick), "lstm": mase(actual, lstm[pick], scale)}
    long = len(values) > PEERS_MAX_STEPS
    models, notes = peer_models(values, n_fit, H, season, names=("mstl",) if long else PEERS)
    notes += [f"{peer}: left out on {name} (more than {PEERS_MAX_STEPS} steps)" for peer in PEERS
              if long and peer != "mstl"]
    for peer, model in models.items():
        start = time.perf_counter()
        row[peer] = mase(actual, model(origins[pick]), scale)
        row[f"{peer}_s"] = time.perf_counter() - start
    row["notes"] = notes
    return row


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def table(results, old):
    lines = ["| series | lstm MASE old → new | wall s old → new | CPU s new | base | seasonal naive | naive | "
             "linear AR | origins for peers | lstm on them | MSTL | AutoARIMA | AutoETS |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o, m, p = old.get(name, {}), r["metrics"], r.get("peers", {})
        lines.append(f"| {name} | {fmt(o.get('mase'))} → **{fmt(m['lstm']['mase'])}** | "
                     f"{fmt(o.get('wall_s'), 0)} → {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['base']} | "
                     f"{fmt(m['seasonal_naive']['mase'])} | {fmt(m['naive']['mase'])} | {fmt(m['linear_ar']['mase'])} | "
                     f"{p.get('origins', '–')} | {fmt(p.get('lstm'))} | {fmt(p.get('mstl'))} | "
                     f"{fmt(p.get('auto_arima'))} | {fmt(p.get('auto_ets'))} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(RUNS), help="these series only")
    parser.add_argument("--no-peers", action="store_true", help="skip the statsforecast peers")
    parser.add_argument("--report", action="store_true", help="only rewrite the table from the saved JSON")
    args = parser.parse_args()
    old = json.loads((RESULTS / "forecast_series_old.json").read_text())
    load = os.popen("uptime").read().strip()
    results = {}
    folder = RESULTS / "forecast_series"  # one JSON per series, so series can run in separate processes
    folder.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in [] if args.report else args.only or RUNS:
            out = f"{tmp}/{name}"
            wall, cpu, metrics = run_cli(name, RUNS[name], out)
            base = json.loads(Path(out, "model", "preprocessing.json").read_text())["base"]
            results[name] = {"wall_s": wall, "cpu_s": cpu, "metrics": metrics, "base": base, "load": load}
            if not args.no_peers:
                results[name]["peers"] = peers_on_subset(name, out)
            print(name, json.dumps({k: v for k, v in results[name].items() if k != "metrics"}), flush=True)
            (folder / f"{name}.json").write_text(json.dumps(results[name], indent=1))
    results = {n: json.loads((folder / f"{n}.json").read_text()) for n in RUNS if (folder / f"{n}.json").exists()}
    notes = sorted({n for r in results.values() for n in r.get("peers", {}).get("notes", [])})
    lines = ["# The default forecast run on every named series: previous and new defaults, baselines, peers", "",
             "Command: `PYTHONPATH=src python benchmarks/forecast_series.py` (series that were rerun with "
             "`--only NAME` carry their own load in the JSON); load when it started: "
             f"`{next(iter(results.values()))['load'] if results else load}`; when the table was written: "
             f"`{os.popen('uptime').read().strip()}`. The 2-core machine is shared "
             "with other jobs: wall times are noisy, CPU seconds (one torch thread) steadier.", "",
             f"Old: {old['source']}", "",
             *table(results, {k: v for k, v in old.items() if k != "source"}), "",
             "MASE on the whole backtest (every origin of the held-out part) for lstm and the three baselines; the "
             "peers and 'lstm on them' on the same every-k-th origins (at most 13).", "",
             *(f"- {n}" for n in notes), *(f"- {n}" for n in NOTES), ""]
    (RESULTS / "forecast_series.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
