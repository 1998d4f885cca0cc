"""`lstmkit forecast`: train an LSTM forecaster on a CSV or a named data set, backtest it next to
the baselines, and write the table, plot, forecast and model; or forecast with a saved model."""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.series import DATASETS, FILLS, load_dataset
from ..errors import LstmkitError
from ..tasks.forecast import Forecaster, ForecastConfig
from ..viz.forecast import plot_forecast

EXAMPLES = """examples:
  lstmkit forecast                                   # bundled AirPassengers, 24 months held out
  lstmkit forecast --list-datasets
  lstmkit forecast --dataset elecdemand               # half-hourly demand, temperature as covariate
  lstmkit forecast --dataset elecdemand --future-covariates WorkDay   # holidays known ahead
  lstmkit forecast --data sales.csv --target units --time-col date --horizon 12 --out runs/sales
  lstmkit forecast --model runs/sales/model --data sales_2025.csv --out runs/sales-next

writes into --out (default runs/forecast-<name>/): metrics.json (every model, every metric),
backtest.csv (every window), forecast.csv (the steps after the data), forecast.png, model/
"""


def register(subparsers) -> None:
    """Add the `forecast` parser to `lstmkit`'s subcommands."""
    p = subparsers.add_parser("forecast", help="time-series forecasting with baselines (the main job)",
                              description=__doc__, epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("data")
    src.add_argument("--data", metavar="FILE.csv", help="a CSV file with a header row")
    src.add_argument("--dataset", metavar="NAME", help="a named real series (see --list-datasets); "
                     "default: airpassengers")
    src.add_argument("--list-datasets", action="store_true", help="list the named series and exit")
    src.add_argument("--target", metavar="COL[,COL]", help="column(s) to forecast")
    src.add_argument("--time-col", metavar="COL", help="time column, parsed as dates")
    src.add_argument("--covariates", metavar="A,B", help="past covariate columns")
    src.add_argument("--future-covariates", metavar="A,B", help="columns also known ahead (holidays, plans)")
    src.add_argument("--future", metavar="FILE.csv", help="their values for the steps after --data")
    src.add_argument("--fill", choices=FILLS, help="fill missing values instead of stopping")
    m = p.add_argument_group("model and training")
    m.add_argument("--model", metavar="DIR", help="forecast after --data with a saved model instead of training")
    for flag, what in (("--horizon", "steps to forecast (H)"), ("--lookback", "steps the model sees (L)"),
                       ("--test-size", "steps held out at the end for the backtest"),
                       ("--season", "season length (default: from the time index)"),
                       ("--epochs", "upper bound; early stopping decides"), ("--ensemble", "members"),
                       ("--hidden", "LSTM units")):
        m.add_argument(flag, type=int, metavar="N", help=what)
    m.add_argument("--strategy", choices=("direct", "recursive"), help="multi-step strategy (default direct)")
    m.add_argument("--augment", metavar="KINDS", help="jitter,scale: augmented copies for small series")
    m.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/forecast-<name>)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=handler)


def handler(args) -> int:
    """Run the command; returns the exit status."""
    if args.list_datasets:
        for name, spec in DATASETS.items():
            print(f"{name:16s} {spec.description}")
        return 0
    if args.model:
        return _predict_with_model(args)
    if args.data and args.dataset:
        raise LstmkitError("--data and --dataset: give one of them, not both")
    start = time.perf_counter()
    data, name, config = _train_config(args)
    forecaster = Forecaster(config).fit(data)
    backtest = forecaster.backtest()
    # Known-future covariates have no values after the data unless --future gives them.
    future = forecaster.predict(future=args.future) if args.future or not config.future_covariates else None
    out = Path(args.out or f"runs/forecast-{name}")
    _write_outputs(out, forecaster, backtest, future, name)
    _say(args, _table(backtest, config))
    if future is None:
        _say(args, "no forecast after the data: give --future FILE.csv with the future covariates")
    _say(args, f"wrote {out}/: metrics.json backtest.csv{'' if future is None else ' forecast.csv'} forecast.png "
         f"model/ ({time.perf_counter() - start:.1f} s)")
    return 0


def _split(text):
    return [s.strip() for s in text.split(",") if s.strip()] if text else []


def _train_config(args):
    """The data source, a name for outputs, and the config: CLI flags over the data set's settings."""
    settings = {}
    if args.data:
        data, name = args.data, Path(args.data).stem
    else:
        name = args.dataset or "airpassengers"
        data, spec = load_dataset(name)
        settings = dict(target=list(spec.target), covariates=list(spec.covariates), horizon=spec.horizon,
                        lookback=spec.lookback, test_size=spec.test_size, season_length=spec.season_length)
    flags = dict(target=_split(args.target) or None, time_col=args.time_col,
                 covariates=_split(args.covariates) or None,
                 future_covariates=_split(args.future_covariates) or None, fill=args.fill, horizon=args.horizon,
                 lookback=args.lookback, test_size=args.test_size, season_length=args.season,
                 epochs=args.epochs, ensemble=args.ensemble, hidden_size=args.hidden, strategy=args.strategy,
                 augment=tuple(_split(args.augment)) or None)
    settings.update({k: v for k, v in flags.items() if v is not None})
    settings.update(seed=args.seed, verbose=0 if args.quiet else 1)
    if "horizon" in settings and "test_size" not in settings:
        settings["test_size"] = max(ForecastConfig.test_size, settings["horizon"])
    return data, name, ForecastConfig(**settings)


TRAINING_ONLY = ("dataset", "target", "time_col", "covariates", "future_covariates", "lookback",
                 "test_size", "season", "epochs", "ensemble", "hidden", "strategy", "augment")


def _predict_with_model(args):
    if not args.data:
        raise LstmkitError("--model: also give --data FILE.csv, the history to forecast after")
    for name in TRAINING_ONLY:
        if getattr(args, name) is not None:
            raise LstmkitError(f"--{name.replace('_', '-')}: not used with --model (a saved model keeps its "
                               "columns and settings in preprocessing.json)")
    forecaster = Forecaster.load(args.model)
    forecaster.config.fill = args.fill or forecaster.config.fill  # the new history may have gaps
    future = forecaster.predict(args.horizon, data=args.data, future=args.future)
    out = Path(args.out or f"runs/forecast-{Path(args.data).stem}")
    out.mkdir(parents=True, exist_ok=True)
    _write_text(out / "forecast.csv", _forecast_csv(future))
    _say(args, future.to_string(float_format=lambda v: f"{v:.4g}"))
    _say(args, f"wrote {out / 'forecast.csv'}")
    return 0


def _forecast_csv(future: pd.DataFrame) -> str:
    return future.rename_axis("time").to_csv()


def _write_outputs(out: Path, forecaster, backtest, future, name):
    out.mkdir(parents=True, exist_ok=True)
    metrics = {k: {m: (None if np.isnan(v) else v) for m, v in d.items()} for k, d in backtest.metrics.items()}
    _write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    _write_text(out / "backtest.csv", _backtest_frame(backtest, forecaster).to_csv(index=False))
    if future is not None:
        _write_text(out / "forecast.csv", _forecast_csv(future))
    plot_forecast(forecaster.frame, backtest, future, out / "forecast.png", quantiles=forecaster.config.quantiles,
                  title=f"{name}: LSTM forecast, backtest over the last {forecaster.config.test_size} steps")
    forecaster.save(out / "model")


def _backtest_frame(backtest, forecaster) -> pd.DataFrame:
    """One row per window, step and target: the actual value and every model's forecast."""
    B, H, T = backtest.actual.shape
    index = forecaster.frame.index
    rows = {"origin": np.repeat(backtest.origins, H * T),
            "time": np.repeat(index[(backtest.positions[:, None] + np.arange(1, H + 1)).ravel()], T),
            "step": np.tile(np.repeat(np.arange(1, H + 1), T), B),
            "target": np.tile(forecaster.targets, B * H), "actual": backtest.actual.ravel()}
    rows.update({name: f.ravel() for name, f in backtest.forecasts.items()})
    for j, q in enumerate(forecaster.config.quantiles):
        rows[f"lstm_p{round(q * 100)}"] = backtest.quantiles[..., j].ravel()
    return pd.DataFrame(rows)


def _table(backtest, config) -> str:
    table = pd.DataFrame(backtest.metrics).T
    windows = len(backtest.origins)
    return (f"backtest: {windows} rolling origins x {config.horizon} steps over the last {config.test_size} "
            f"steps (MAPE/sMAPE in %; MASE < 1 beats the in-sample seasonal naive)\n"
            f"{table.to_string(float_format=lambda v: f'{v:.3f}')}\n"
            f"lstm interval coverage ({round(config.quantiles[0] * 100)}-{round(config.quantiles[-1] * 100)}%): "
            f"{backtest.coverage:.1%}")


def _write_text(path: Path, text: str):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same directory: the rename is atomic
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _say(args, text):
    if not args.quiet:
        print(text)
