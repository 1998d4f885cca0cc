"""The settings of a forecasting run and the result of its backtest."""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from ...errors import LstmkitError
from ..common import Config as _Base
from ...precision import PRECISIONS
from ..schema import (COUNT, FRACTION, MAX_LAYERS, MAX_MEMBERS, MAX_UNITS, POSITIVE, RATE, SEED, agree, any_of,
                      boolean, choice, fields, integer, items, number, optional, text)
from ...models.schema import _fail


PEERS_AUTO_MAX = 1000  # steps; beyond, peers="auto" leaves the statsforecast peers out
MAX_STEPS = 1 << 16  # a horizon, lookback or season: windows are (B, lookback + horizon, F)
MAX_COLUMNS = 4096
COLUMNS = items(text(), max_len=MAX_COLUMNS, distinct=True)


@dataclass
class Config(_Base):
    """Everything a forecasting run depends on. Defaults suit a short monthly series (AirPassengers).

    A series is held out by steps, not by a fraction: `test_size`, the last steps, which the
    backtest's rolling origins cover.

    Example:
        >>> Config(horizon=6, lookback=12).test_size
        24
    """
    target: str | list | None = None    # column(s) to forecast; None: the only numeric column
    time_col: str | None = None         # None: a DatetimeIndex or steps 0, 1, 2, ...
    covariates: list = field(default_factory=list)  # past covariates (known up to the origin only)
    future_covariates: list = field(default_factory=list)  # known ahead too (holidays, planned
                                        # prices): predict() then needs their next H values
    fill: str | None = None             # missing values: None raises; "interpolate" or "ffill" fill
    horizon: int = 12
    lookback: int = 24
    test_size: int = 24                 # held out at the end; the backtest's windows lie inside it
    season_length: int | None = None    # None: from the time index (12 monthly, 7 daily, 48 half-hourly)
    strategy: str = "direct"            # "direct": all H steps at once; "recursive": one step, fed back
    quantiles: tuple = (0.1, 0.5, 0.9)  # must contain 0.5, the point forecast
    samples: int = 100                  # recursive only: sample paths per origin for the quantiles
    transform: str = "auto"             # "log", "none"; "auto": log when every training value is > 0
    base: str = "auto"                  # predict relative to "last", "seasonal" (a season back),
                                        # "linear" (a linear AR fitted on the training windows: the LSTM
                                        # learns its errors) or "none"; auto (hybrid.py, direct strategy):
                                        # whichever of last, seasonal, linear, decomposition or the mean
                                        # of two of them forecasts up to 4 validation folds best;
                                        # "decomposition": seasonal profiles + AR on one series
                                        # (decompose.py); with id_col the per-series seasonal-trend
                                        # base of panel_base.py (its own name there: "decomp")
    calendar: bool = True               # sine/cosine calendar features as known-future inputs
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    epochs: int = 300                   # an upper bound: early stopping on the validation windows (and
                                        # scaling.max_epochs for long series) usually ends sooner
    patience: int | None = None         # None: scaling.patience_epochs: 60 epochs for a short series,
                                        # down to 10 when an epoch holds thousands of windows
    epoch_windows: int | None = 2048    # training windows per epoch at most (drawn from a stream
                                        # reshuffled every pass); None: every window every epoch
    batch_size: int | None = None       # None: about 20 batches an epoch, at least 16 windows each:
                                        # small series get small batches, long ones stay fast
    learning_rate: float = 1e-3
    ensemble: int | None = None         # members trained from seeds seed, seed+1, ...; None:
                                        # scaling.ensemble_size: 3 for short series, 1 for long ones
    augment: tuple = ()                 # ("jitter", "scale") for small series
    augment_copies: int = 1
    seed: int = 0
    precision: str = "fp32"  # "bf16": mixed bfloat16 training, float32 weights (lstmkit.precision)
    peers: str = "auto"                 # statsforecast's AutoARIMA, AutoETS, MSTL in the backtest: "on",
                                        # "off"; "auto": on when installed and the series is at most
                                        # PEERS_AUTO_MAX steps (they re-run at every origin: slow on long ones)
    threads: int | None = 1             # torch threads while training: a net this small runs fastest
                                        # on one (more only add synchronisation); None keeps torch's
    id_col: str | None = None           # many series (long format, one row per id and step): one global
                                        # model over all of them, each scaled by its own statistics
    static_covariates: list = field(default_factory=list)  # constant within a series: categorical ->
                                        # learned embedding, numeric -> scaled (panel only)
    series_embedding: int = 0           # panel: size of a learned embedding of the series id (0: none)
    series_windows: int | None = None   # panel: at most this many training windows per series an epoch
                                        # (drawn afresh each epoch); None: all

    SCHEMA = {
        "target": optional(any_of(text(), COLUMNS, expected="a column name or a list of them")),
        "time_col": optional(text()), "covariates": any_of(text(), COLUMNS, expected="a list of column names"),
        "future_covariates": any_of(text(), COLUMNS, expected="a list of column names"),
        "fill": optional(choice("interpolate", "ffill")), "horizon": integer(1, MAX_STEPS),
        "lookback": integer(1, MAX_STEPS), "test_size": integer(1, 1 << 30),
        "season_length": optional(integer(1, MAX_STEPS)), "strategy": choice("direct", "recursive"),
        "quantiles": items(FRACTION, min_len=1, max_len=99), "samples": integer(1, 10_000),
        "transform": choice("auto", "log", "none"), "base": choice("auto", "last", "seasonal", "none", "linear",
                                                                     "decomposition", "decomp"),
        "calendar": boolean, "hidden_size": integer(1, MAX_UNITS), "num_layers": integer(1, MAX_LAYERS),
        "dropout": RATE, "epochs": COUNT, "patience": optional(integer(0, 1 << 30)), "epoch_windows": optional(COUNT), "batch_size": optional(COUNT),
        "learning_rate": POSITIVE, "ensemble": optional(integer(1, MAX_MEMBERS)),
        "augment": items(choice("jitter", "scale"), max_len=2), "augment_copies": integer(0, 1000),
        "precision": choice(*PRECISIONS), "seed": SEED, "peers": choice("auto", "on", "off"), "threads": optional(integer(1, 1024)),
    }

    def __post_init__(self):
        self.quantiles, self.augment = tuple(self.quantiles), tuple(self.augment)  # JSON gives lists
        self.check_positive("horizon", "lookback", "test_size", "hidden_size", "num_layers", "epochs",
                            "batch_size", "ensemble", "samples", "patience", "epoch_windows",
                            optional=("batch_size", "ensemble", "patience", "epoch_windows"))
        if self.test_size < self.horizon:
            raise LstmkitError(f"test_size: expected at least the horizon ({self.horizon}) so one backtest "
                               f"window fits, got {self.test_size}")
        self.check_choice("strategy", ("direct", "recursive"))
        self.check_choice("peers", ("auto", "on", "off"))
        self.check_choice("transform", ("auto", "log", "none"))
        self.check_choice("base", ("auto", "last", "seasonal", "none", "linear", "decomposition", "decomp"))
        if self.id_col and self.base == "decomposition":  # many series: the per-series seasonal-trend base
            self.base = "decomp"
        if self.base == "decomp" and (not self.id_col or self.strategy != "direct"):
            raise LstmkitError("base: 'decomp' (a per-series seasonal-trend base) is for many series; give "
                               f"id_col and strategy='direct', got id_col={self.id_col!r}, strategy={self.strategy!r}")
        self.check_choice("precision", PRECISIONS)
        q = list(self.quantiles)
        if 0.5 not in q or any(not 0 < v < 1 for v in q) or q != sorted(set(q)):
            raise LstmkitError(f"quantiles: expected increasing levels in (0, 1) including 0.5, got {self.quantiles!r}")
        for name in ("covariates", "future_covariates", "static_covariates"):  # one column given as a bare string
            if isinstance(getattr(self, name), str):
                setattr(self, name, [getattr(self, name)])
        self.check_positive("series_windows", optional=("series_windows",))
        if not isinstance(self.series_embedding, int) or self.series_embedding < 0:
            raise LstmkitError(f"series_embedding: expected an integer >= 0, got {self.series_embedding!r}")
        if (self.static_covariates or self.series_embedding) and not self.id_col:
            raise LstmkitError("static_covariates / series_embedding: need many series; give id_col too")
        if set(self.augment) - {"jitter", "scale"}:
            raise LstmkitError(f"augment: expected a subset of ('jitter', 'scale'), got {self.augment!r}")
        if self.strategy == "recursive" and self.base in ("linear", "decomposition"):
            raise LstmkitError(f"base: {self.base!r} forecasts all H steps from the lookback; it needs "
                               "strategy='direct', got 'recursive'")
        if self.strategy == "recursive" and self.covariates:
            raise LstmkitError("strategy: 'recursive' feeds forecasts back and cannot forecast past "
                               "covariates; use strategy='direct', drop them or give them as future_covariates")


SCALER = fields({"log": boolean, "mean": items(number(), max_len=MAX_COLUMNS),
                 "std": items(number(0, open_lo=True), max_len=MAX_COLUMNS)}, required=("log", "mean", "std"))
NET = {"n_features": integer(1, 3 * MAX_COLUMNS + 4), "n_known": integer(0, MAX_COLUMNS + 4),
       "n_targets": integer(1, MAX_COLUMNS), "lookback": integer(1, MAX_STEPS), "horizon": integer(1, MAX_STEPS),
       "n_quantiles": integer(1, 99), "hidden_size": integer(1, MAX_UNITS), "num_layers": integer(1, MAX_LAYERS),
       "dropout": RATE}
# what a saved Forecaster holds besides its Config: config.json's "net" and "ensemble", preprocessing.json
META = fields({"net": fields(NET, required=tuple(NET)), "ensemble": integer(1, MAX_MEMBERS)},
              required=("net", "ensemble"))
PREPARED = {"targets": items(text(), min_len=1, max_len=MAX_COLUMNS, distinct=True), "time_col": optional(text()),
            "freq": optional(text(64)), "season": integer(1, MAX_STEPS), "base": choice("last", "seasonal", "none", "linear",
                                                                                 "decomposition", "combination"),
            "log": boolean, "step": integer(1, MAX_STEPS), "target_scaler": SCALER, "cov_scaler": SCALER,
            "known_scaler": SCALER,
            # the hybrid base's linear AR, and the share of the network's correction kept (both newer)
            "linear": optional(fields({"lookback": integer(1, MAX_STEPS), "horizon": integer(1, MAX_STEPS),
                                       "coef": items(items(items(number(), max_len=MAX_STEPS), max_len=MAX_STEPS + 1),
                                                     max_len=MAX_COLUMNS)},
                                      required=("lookback", "horizon", "coef"))),
            "blend": number(0, 1),
            # base "decomposition": its profiles and AR, and the first step's stamp (phases of new data)
            "decomposition": optional(fields({"lookback": integer(1, MAX_STEPS), "horizon": integer(1, MAX_STEPS),
                                              "seasons": items(integer(2, MAX_STEPS), min_len=1, max_len=4),
                                              "found": items(items(items(number(), max_len=MAX_COLUMNS),
                                                                   max_len=MAX_STEPS), max_len=4),
                                              "coef": items(items(items(number(), max_len=MAX_STEPS),
                                                                  max_len=MAX_STEPS + 1), max_len=MAX_COLUMNS)},
                                             required=("lookback", "horizon", "seasons", "found", "coef"))),
            "start": optional(items(optional(any_of(text(), number(), expected="a time stamp or a number")),
                                    min_len=2, max_len=2)),
            # base "combination" (auto only): the two bases averaged; "linear" / "decomposition" hold theirs
            "combination": optional(fields({"names": items(choice("last", "seasonal", "linear", "decomposition"),
                                                           min_len=2, max_len=2, distinct=True),
                                            "horizon": integer(1, MAX_STEPS), "lookback": integer(1, MAX_STEPS)},
                                           required=("names", "horizon", "lookback")))}
OPTIONAL_PREP = ("linear", "blend", "decomposition", "start", "combination")
PREPROCESSING = fields(PREPARED, required=tuple(k for k in PREPARED if k not in OPTIONAL_PREP))


def _check_start(start, where: str) -> None:
    """A decomposition model's first stamp: [a time stamp, None] or [a number, a non-zero step]; the
    phase of every forecast is counted from it."""
    if start is None:
        _fail(where, "[the first time stamp, null] or [the first step number, its step]", None)
    first, step = start
    if step is None:
        try:
            stamp = pd.Timestamp(first) if isinstance(first, str) else pd.NaT
        except (TypeError, ValueError):
            stamp = pd.NaT
        if pd.isna(stamp):
            _fail(where, "a time stamp first", first)
    elif isinstance(first, str) or isinstance(step, str) or not step:
        _fail(where, "a number and a non-zero step", start)


def check_freq(freq, where: str) -> None:
    """A saved frequency is None or a pandas offset that steps forward; else ModelFileError."""
    if freq is None:
        return
    try:
        forward = to_offset(freq).n >= 1  # "0D" divides by zero, "-1D" steps back in time
    except (ValueError, TypeError):
        forward = False
    if not forward:
        _fail(where, "a pandas frequency of steps forward ('MS', 'D', '30min', ...)", freq)


def check_saved(config: Config, meta: dict, prep: dict, where: dict) -> None:
    """What must agree between a saved Forecaster's config, network and preprocessing: one scaler
    value per column, the network's sizes, a valid frequency and season.

    Raises:
        ModelFileError: naming the file and the field.
    """
    c, net, at, T = config, meta["net"], where["preprocessing"], len(prep["targets"])
    columns = {"target_scaler": (T, "one per target"), "cov_scaler": (len(c.covariates), "one per covariate"),
               "known_scaler": (len(c.future_covariates), "one per future covariate")}
    for name, (n, why) in columns.items():
        for part in ("mean", "std"):
            agree(f"{at} {name}.{part}", len(prep[name][part]), n, f"its length: {why}")
    agree(f"{at} log", prep["log"], prep["target_scaler"]["log"], "target_scaler.log")
    agree(f"{at} step", prep["step"], 1 if c.strategy == "recursive" else c.horizon, "config.strategy and horizon")
    parts = [prep["base"]]
    if prep["base"] == "combination":
        combination = prep.get("combination")
        if combination is None:
            _fail(f"{at} combination", "the two bases of base 'combination'", None)
        agree(f"{at} combination.lookback", combination["lookback"], c.lookback, "config.lookback")
        agree(f"{at} combination.horizon", combination["horizon"], prep["step"], "step")
        parts = combination["names"]
    if "seasonal" in parts and not 1 < prep["season"] <= c.lookback:
        _fail(f"{at} season", f"a season in (1, lookback {c.lookback}] for base 'seasonal'", prep["season"])
    check_freq(prep["freq"], f"{at} freq")
    if "linear" in parts:
        linear = prep.get("linear")
        if linear is None:
            _fail(f"{at} linear", "the linear AR of base 'linear'", None)
        agree(f"{at} linear.lookback", linear["lookback"], c.lookback, "config.lookback")
        agree(f"{at} linear.horizon", linear["horizon"], prep["step"], "step")
        agree(f"{at} linear.coef", np.shape(linear["coef"]), (T, c.lookback + 1, prep["step"]),
              "(targets, lookback + 1, step)")
    if "decomposition" in parts:
        dec = prep.get("decomposition")
        if dec is None:
            _fail(f"{at} decomposition", "the profiles and AR of base 'decomposition'", None)
        agree(f"{at} decomposition.lookback", dec["lookback"], c.lookback, "config.lookback")
        agree(f"{at} decomposition.horizon", dec["horizon"], prep["step"], "step")
        agree(f"{at} decomposition.found", [np.shape(p) for p in dec["found"]],
              [(m, T) for m in dec["seasons"]], "(season, targets) per season")
        agree(f"{at} decomposition.coef", np.shape(dec["coef"]), (T, c.lookback + 1, prep["step"]),
              "(targets, lookback + 1, step)")
        _check_start(prep.get("start"), f"{at} start")
    at = f"{where['config']} net"
    for name, want in (("n_targets", T), ("lookback", c.lookback), ("horizon", prep["step"]),
                       ("n_quantiles", len(c.quantiles)), ("hidden_size", c.hidden_size),
                       ("num_layers", c.num_layers), ("dropout", c.dropout)):
        agree(f"{at}.{name}", net[name], want, "from the config and preprocessing")
    calendar = net["n_known"] - len(c.future_covariates)  # 0, 2 or 4 calendar columns
    if not 0 <= calendar <= 4:
        _fail(f"{at}.n_known", f"{len(c.future_covariates)} future covariates + 0 to 4 calendar features",
              net["n_known"])
    agree(f"{at}.n_features", net["n_features"], T + len(c.covariates) + net["n_known"],
          "targets + covariates + n_known")


@dataclass
class Backtest:
    """Rolling-origin evaluation on the held-out part: every model on exactly the same windows.

    Attributes:
        origins: (B,) time stamps of the last observed step of each window; positions: their (B,)
            row numbers in the series.
        actual: (B, H, T); forecasts: model name -> (B, H, T) point forecasts (original units).
        quantiles: (B, H, T, Q) the LSTM's quantile forecasts. metrics: name -> {metric: value}.
        coverage: fraction of actual values inside the LSTM's outer quantile interval.
        baseline_quantiles: baseline name -> (B, H, T, Q): its point forecast plus the empirical
            quantiles of its errors on windows inside the training part.
        notes: one line per peer left out (not installed, failed to fit).
    """
    origins: pd.Index
    positions: np.ndarray
    actual: np.ndarray
    forecasts: dict
    quantiles: np.ndarray
    metrics: dict
    coverage: float
    baseline_quantiles: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
