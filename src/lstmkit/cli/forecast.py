"""`lstmkit forecast train|predict`: train an LSTM forecaster on a CSV or a named data set, backtest
it next to the baselines, and write the table, plot, forecast and model; or forecast with a saved one."""
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.series import DATASETS, FILLS, load_dataset
from ..errors import LstmkitError
from ..saving import atomic_write
from ..tasks import forecast
from ..tasks.forecast import Config, Forecaster, distributed
from ..viz.forecast import plot_forecast
from . import forecast_panel
from .checks import check_output, check_run_dir, input_paths
from .common import add_task_parsers, backup_callbacks, drop_backup, run_backup, say, write_run

OUTPUTS = ("metrics.json", "backtest.csv", "forecast.csv", "forecast.png")  # and model/

TRAIN_EXAMPLES = """  lstmkit forecast train                                   # bundled AirPassengers, 24 months held out
  lstmkit forecast train --list-datasets
  lstmkit forecast train --dataset elecdemand               # half-hourly demand, temperature as covariate
  lstmkit forecast train --dataset elecdemand --future-covariates WorkDay   # holidays known ahead
  lstmkit forecast train --data sales.csv --target units --time-col date --horizon 12 --out runs/sales
    writes OUT/metrics.json (every model, every metric), OUT/backtest.csv (every window),
    OUT/forecast.csv (the steps after the data), OUT/forecast.png and OUT/model/
"""
PREDICT_EXAMPLES = """  lstmkit forecast predict --model runs/sales --data sales_2025.csv --out runs/sales-next
    writes OUT/forecast.csv: the steps after the end of --data
"""


def register(subparsers) -> None:
    """Add the `forecast` parser to `lstmkit`'s subcommands."""
    train, predict = add_task_parsers(subparsers, "forecast", "time-series forecasting with baselines (the main job)",
                                      __doc__, TRAIN_EXAMPLES, PREDICT_EXAMPLES)
    src = train.add_argument_group("data")
    src.add_argument("--data", metavar="FILE.csv", help="a CSV file with a header row")
    src.add_argument("--dataset", metavar="NAME", help="a named real series (see --list-datasets); "
                     "default: airpassengers")
    src.add_argument("--list-datasets", action="store_true", help="list the named series and exit")
    src.add_argument("--target", metavar="COL[,COL]", help="column(s) to forecast")
    src.add_argument("--time-col", metavar="COL", help="time column, parsed as dates")
    src.add_argument("--covariates", metavar="A,B", help="past covariate columns")
    src.add_argument("--future-covariates", metavar="A,B", help="columns also known ahead (holidays, plans)")
    forecast_panel.add_arguments(src)
    m = train.add_argument_group("model and training")
    for flags, what in ((("--horizon",), "steps to forecast (H)"), (("--lookback",), "steps the model sees (L)"),
                        (("--test-size",), "steps held out at the end for the backtest"),
                        (("--season",), "season length (default: from the time index)"),
                        (("--epochs",), "upper bound; early stopping decides"), (("--ensemble",), "members"),
                        (("--hidden-size", "--hidden"), "LSTM units")):
        m.add_argument(*flags, type=int, metavar="N", help=what)
    m.add_argument("--strategy", choices=("direct", "recursive"), help="multi-step strategy (default direct)")
    m.add_argument("--base", choices=("auto", "last", "seasonal", "linear", "decomposition", "none"),
                   help="what the LSTM corrects: the last value, the value a season back, a linear AR, a seasonal "
                        "decomposition, or nothing (default auto: chosen on validation folds; with --id-col, "
                        "decomposition is the per-series MSTL base)")
    m.add_argument("--augment", metavar="KINDS", help="jitter,scale: augmented copies for small series")
    m.add_argument("--nproc", type=int, metavar="N", help="train on N local processes (DistributedDataParallel, "
                   "gloo on CPU, nccl on GPU; the global batch split across them); under torchrun the "
                   "processes come from the environment instead")
    m.add_argument("--peers", choices=("auto", "on", "off"), help="statsforecast's AutoARIMA, AutoETS and MSTL "
                   "in the backtest (default auto: when installed and the series has at most 1000 steps)")
    predict.add_argument("--data", metavar="FILE.csv", required=True, help="the history to forecast after "
                         "(a panel model: long format with the id column, a folder of CSVs or Parquet)")
    predict.add_argument("--horizon", type=int, metavar="N", help="steps to forecast (default: the model's)")
    predict.add_argument("--out", metavar="DIR", help="output directory (default runs/forecast-<data>)")
    for p in (train, predict):
        p.add_argument("--future", metavar="FILE.csv", help="the future covariates' values after the data")
        p.add_argument("--fill", choices=FILLS, help="fill missing values instead of stopping")
    train.set_defaults(func=handle_train)
    predict.set_defaults(func=handle_predict)


def handle_train(args) -> int:
    """Train, backtest next to the baselines, forecast after the data; write the run directory."""
    if args.list_datasets:
        for name, spec in DATASETS.items():
            print(f"{name:16s} {spec.description}")
        return 0
    if args.data and args.dataset:
        raise LstmkitError("--data and --dataset: give one of them, not both")
    if args.nproc is not None and args.nproc < 1:
        raise LstmkitError(f"--nproc: expected a positive number of processes, got {args.nproc}")
    if (args.nproc or 1) > 1 and "WORLD_SIZE" not in os.environ:  # relaunch this command under torchrun
        return distributed.launch(args.nproc, _without_nproc(sys.argv[1:]))
    rank = distributed.init_from_env()
    start = time.perf_counter()
    data, name, config = _train_config(args)
    out = check_run_dir(args.out or f"runs/forecast-{name}", input_paths(args), files=OUTPUTS)
    if config.id_col:
        if args.resume:
            raise LstmkitError("--resume: a panel (--id-col) run cannot continue from a backup yet; run without --resume")
        return forecast_panel.handle_train(args, data, name, config)
    backup = run_backup(args, out, "forecast", config)
    forecaster = forecast.train(data, config, verbose=0 if args.quiet or rank else 1,
                                callbacks=backup_callbacks(backup))
    if rank:  # rank 0 evaluates and writes the run directory
        return 0
    backtest = forecast.backtest(forecaster)
    # Known-future covariates have no values after the data unless --future gives them.
    future = forecaster.predict(future=args.future) if args.future or not config.future_covariates else None
    _write_outputs(out, forecaster, backtest, future, name)
    drop_backup(backup)
    say(args, _table(backtest, config))
    if future is None:
        say(args, "no forecast after the data: give --future FILE.csv with the future covariates")
    say(args, f"wrote {out}/: metrics.json backtest.csv{'' if future is None else ' forecast.csv'} forecast.png "
        f"model/ ({time.perf_counter() - start:.1f} s)")
    return 0


def handle_predict(args) -> int:
    """Forecast after --data with a saved model; write OUT/forecast.csv."""
    out = check_output("--out", args.out or f"runs/forecast-{Path(args.data).stem}", directory=True,
                       inputs=input_paths(args))
    check_output("--out", out / "forecast.csv", directory=False, inputs=input_paths(args))  # not --data itself
    forecaster = Forecaster.load(args.model, runtime=args.runtime)
    forecaster.config.fill = args.fill or forecaster.config.fill  # the new history may have gaps
    future = forecaster.predict(args.horizon, data=args.data, future=args.future)
    panel = bool(forecaster.config.id_col)
    atomic_write(out / "forecast.csv", forecast_panel.forecast_csv(future) if panel else _forecast_csv(future))
    say(args, future.to_string(index=not panel, float_format=lambda v: f"{v:.4g}"))
    say(args, f"wrote {out / 'forecast.csv'}")
    return 0


def _without_nproc(argv: list) -> list:
    """The command line without its --nproc N (or --nproc=N)."""
    out, skip = [], False
    for a in argv:
        if not skip and a != "--nproc" and not a.startswith("--nproc="):
            out.append(a)
        skip = a == "--nproc"
    return out


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
                 epochs=args.epochs, ensemble=args.ensemble, hidden_size=args.hidden_size, strategy=args.strategy,
                 base=args.base,
                 augment=tuple(_split(args.augment)) or None, peers=args.peers, id_col=args.id_col,
                 static_covariates=_split(args.static_covariates) or None, series_embedding=args.series_embedding,
                 series_windows=args.series_windows)
    settings.update({k: v for k, v in flags.items() if v is not None})
    settings.update(seed=args.seed, precision=args.precision)
    if "horizon" in settings and "test_size" not in settings:
        settings["test_size"] = max(Config.test_size, settings["horizon"])
    return data, name, Config(**settings)


def _forecast_csv(future: pd.DataFrame) -> str:
    return future.rename_axis("time").to_csv()


def _write_outputs(out: Path, forecaster, backtest, future, name):
    metrics = {k: {m: (None if np.isnan(v) else v) for m, v in d.items()} for k, d in backtest.metrics.items()}
    atomic_write(out / "backtest.csv", _backtest_frame(backtest, forecaster).to_csv(index=False))
    if future is not None:
        atomic_write(out / "forecast.csv", _forecast_csv(future))
    plot_forecast(forecaster.frame, backtest, future, out / "forecast.png", quantiles=forecaster.config.quantiles,
                  title=f"{name}: LSTM forecast, backtest over the last {forecaster.config.test_size} steps")
    write_run(out, forecaster, metrics)


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


POINT = ["mae", "rmse", "mape", "smape", "mase"]


def _table(backtest, config) -> str:
    """The point-error table, the quantile-score table, and one line per peer left out."""
    table = pd.DataFrame(backtest.metrics).T
    scores = [col for col in table.columns if col not in POINT]
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    lines = [f"backtest: {len(backtest.origins)} rolling origins x {config.horizon} steps over the last "
             f"{config.test_size} steps (MAPE/sMAPE in %; MASE < 1 beats the in-sample seasonal naive)",
             table[POINT].to_string(float_format=fmt),
             f"quantile scores at levels {list(config.quantiles)} (baselines: point + empirical quantiles of "
             f"their errors on training windows; CRPS = mean of 2 x pinball over the levels)",
             table[scores].to_string(float_format=fmt), *backtest.notes]
    return "\n".join(lines)
