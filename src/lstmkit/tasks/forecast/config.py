"""The settings of a forecasting run and the result of its backtest."""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import LstmkitError
from ..common import Config as _Base


PEERS_AUTO_MAX = 1000  # steps; beyond, peers="auto" leaves the statsforecast peers out


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
                                        # learns its errors) or "none"; auto (hybrid.py): seasonal if
                                        # 1 < season <= lookback, else last, or linear when that forecasts
                                        # the validation windows better (direct strategy)
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
    peers: str = "auto"                 # statsforecast's AutoARIMA, AutoETS, MSTL in the backtest: "on",
                                        # "off"; "auto": on when installed and the series is at most
                                        # PEERS_AUTO_MAX steps (they re-run at every origin: slow on long ones)
    threads: int | None = 1             # torch threads while training: a net this small runs fastest
                                        # on one (more only add synchronisation); None keeps torch's

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
        self.check_choice("base", ("auto", "last", "seasonal", "none", "linear"))
        q = list(self.quantiles)
        if 0.5 not in q or any(not 0 < v < 1 for v in q) or q != sorted(set(q)):
            raise LstmkitError(f"quantiles: expected increasing levels in (0, 1) including 0.5, got {self.quantiles!r}")
        for name in ("covariates", "future_covariates"):  # one column given as a bare string
            if isinstance(getattr(self, name), str):
                setattr(self, name, [getattr(self, name)])
        if set(self.augment) - {"jitter", "scale"}:
            raise LstmkitError(f"augment: expected a subset of ('jitter', 'scale'), got {self.augment!r}")
        if self.strategy == "recursive" and self.base == "linear":
            raise LstmkitError("base: 'linear' forecasts all H steps from the lookback; it needs "
                               "strategy='direct', got 'recursive'")
        if self.strategy == "recursive" and self.covariates:
            raise LstmkitError("strategy: 'recursive' feeds forecasts back and cannot forecast past "
                               "covariates; use strategy='direct', drop them or give them as future_covariates")


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
