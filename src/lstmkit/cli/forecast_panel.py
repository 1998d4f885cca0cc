"""`lstmkit forecast train --id-col ID`: many series, one global model. Writes the aggregate and
per-series metrics, every series' backtest windows, the forecast after the data (long format, with
the id column), a plot for the first few series and the model."""
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..saving import atomic_write, atomic_write_json
from ..tasks import forecast
from ..viz.forecast import plot_forecast
from .common import say

PLOTTED = 4  # series drawn, one image each


def add_arguments(group) -> None:
    """The panel flags of `forecast train`."""
    group.add_argument("--id-col", metavar="COL", help="many series: the series id column (long format, one row "
                       "per id and step); --data may also be a folder of CSVs (id = file stem) or Parquet")
    group.add_argument("--static-covariates", metavar="A,B", help="columns constant within a series (store type, "
                       "region): categorical ones embedded, numeric ones scaled")
    group.add_argument("--series-embedding", type=int, metavar="N", help="size of a learned embedding of the id")
    group.add_argument("--series-windows", type=int, metavar="N", help="at most N training windows per series an epoch")


def handle_train(args, data, name, config) -> int:
    """Train the global model, backtest every series next to the baselines, write the run directory."""
    start = time.perf_counter()
    forecaster = forecast.train(data, config, verbose=0 if args.quiet else 1)
    backtest = forecaster.backtest()
    future = forecaster.predict(future=args.future) if args.future or not config.future_covariates else None
    out = Path(args.out or f"runs/forecast-{name}")
    _write(out, forecaster, backtest, future, name)
    say(args, table(backtest, config))
    say(args, f"wrote {out}/: metrics.json backtest.csv{'' if future is None else ' forecast.csv'} "
        f"forecast-<id>.png ({min(PLOTTED, len(backtest.series))}) model/ ({time.perf_counter() - start:.1f} s)")
    return 0


def forecast_csv(future: pd.DataFrame) -> str:
    """The long forecast frame (id, time, quantile columns) as CSV."""
    return future.to_csv(index=False)


def table(backtest, config) -> str:
    """Mean and median MASE over series, mean sMAPE and scaled CRPS, and the share of series the LSTM wins."""
    frame = pd.DataFrame(backtest.metrics).T
    n = len(backtest.per_series)
    lines = [f"panel backtest: {n} series, rolling origins x {config.horizon} steps over each series' last "
             f"{config.test_size} steps (mean and median over series; lstm_better: share of series where the "
             f"LSTM's MASE is lower)", frame.to_string(float_format=lambda v: f"{v:.3f}"), *backtest.notes[:10]]
    if len(backtest.notes) > 10:
        lines.append(f"... and {len(backtest.notes) - 10} more notes in metrics.json")
    return "\n".join(lines)


def _write(out, forecaster, backtest, future, name):
    clean = lambda d: {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}  # noqa: E731
    metrics = {"aggregate": {m: clean(d) for m, d in backtest.metrics.items()},
               "series": {sid: {m: clean(d) for m, d in s.items()} for sid, s in backtest.per_series.items()},
               "notes": backtest.notes}
    forecaster.save(out / "model")
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write(out / "backtest.csv", _backtest_frame(backtest, forecaster).to_csv(index=False))
    if future is not None:
        atomic_write(out / "forecast.csv", forecast_csv(future))
    id_col = forecaster.config.id_col
    for sid in list(backtest.series)[:PLOTTED]:
        mine = None if future is None else future[future[id_col] == sid].drop(columns=id_col).set_index("time")
        plot_forecast(backtest.frames[sid], backtest.series[sid], mine, out / f"forecast-{_safe(sid)}.png",
                      quantiles=forecaster.config.quantiles, title=f"{name}, series {sid}: LSTM (global model)")


def _safe(sid: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sid)[:80]


def _backtest_frame(backtest, forecaster) -> pd.DataFrame:
    """One row per series, window and step: the actual value and every model's forecast."""
    parts = []
    for sid, bt in backtest.series.items():
        B, H, _ = bt.actual.shape
        index = backtest.frames[sid].index
        rows = {forecaster.config.id_col: sid, "origin": np.repeat(bt.origins, H),
                "time": index[(bt.positions[:, None] + np.arange(1, H + 1)).ravel()],
                "step": np.tile(np.arange(1, H + 1), B), "actual": bt.actual[..., 0].ravel()}
        rows.update({m: f[..., 0].ravel() for m, f in bt.forecasts.items()})
        for j, q in enumerate(forecaster.config.quantiles):
            rows[f"lstm_p{round(q * 100)}"] = bt.quantiles[:, :, 0, j].ravel()
        parts.append(pd.DataFrame(rows))
    return pd.concat(parts, ignore_index=True)
