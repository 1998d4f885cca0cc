"""Time-series forecasting with an LSTM: `train(data, config)` -> a Forecaster, then `.predict()`,
and `evaluate` / `backtest` next to naive, seasonal naive and linear-autoregression baselines.

The pipeline: read and check the series; hold out the last `test_size` steps; fit the scaler on the
rest; cut lookback/horizon windows (the last ones, whose targets start after every training target
ends, for early stopping); train a small ensemble of LSTMs with the pinball loss; evaluate on
rolling origins inside the held-out part.

Shapes: N steps, T targets, P past covariates, K future covariates, C known-future features (the
K future covariates, then the calendar), L lookback, H horizon, B windows, Q quantiles.
"""
import contextlib

import numpy as np
import pandas as pd
import torch

from ...data import timeseries as ts
from ...data.series import read_series
from ...models import EarlyStopping, Model
from ...models.optimizers import Adam
from ...errors import DataError, LstmkitError, ModelFileError
from ...saving import open_model_dir
from ...seeding import set_seed
from ..common import Members, Predictor, model_dir
from . import baselines, distributed, hybrid, scaling
from .config import META, PEERS_AUTO_MAX, PREPROCESSING, Backtest, Config, check_saved
from .net import Ensemble, ForecastNet, PinballLoss, sample_quantiles
from .metrics import forecast_metrics, mase_scale, probabilistic_metrics, residual_quantiles
from .peers import left_out, peer_models
from .progress import Progress, RunClock


@contextlib.contextmanager
def _threads(n):
    """Run with n torch threads, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(data, config: Config | None = None, *, verbose=1, callbacks=None) -> "Forecaster":
    """Read `data` (CSV path, DataFrame or Series), hold out its last `config.test_size` steps, train.

    Args:
        data: the whole series; config: a Config (default Config()).
        verbose: 0 silent, else one line per ensemble member (redrawn each epoch on a terminal).
        callbacks: more `lstmkit.models.callbacks.Callback`s for every member's `Model.fit`; a
            `BackupAndRestore(dir)` makes the run resumable, member by member (see `Members`).

    Returns:
        A Forecaster.

    Example:
        >>> f = train("src/lstmkit/data/bundled/airpassengers.csv",
        ...           Config(target="passengers", time_col="month", epochs=2), verbose=0)
        >>> f.predict().shape
        (12, 3)
    """
    config = config or Config()
    if config.id_col:  # many series: one global model (panel.py)
        from .panel import PanelForecaster
        return PanelForecaster(config)._fit(data, verbose, list(callbacks or []))
    return Forecaster(config)._fit(data, verbose, list(callbacks or []))


def backtest(forecaster: "Forecaster", data=None) -> Backtest:
    """Rolling origins over the held-out steps of `data` (default: the series `train` read)."""
    return forecaster.backtest(data)


def evaluate(forecaster: "Forecaster", data=None) -> dict:
    """{"lstm" | "naive" | "seasonal_naive" | "linear_ar": {"mae", "rmse", "mape", "smape", "mase"}} on
    the held-out steps of `data` (default: the series `train` read)."""
    return forecaster.backtest(data).metrics


class Forecaster(Predictor):
    """A trained LSTM forecaster: forecast, backtest against baselines, save and load.

    Args:
        config: a Config (default: Config()); build one with `train`.

    Example:
        >>> f = Forecaster.load("runs/forecast-airpassengers")              # doctest: +SKIP
        >>> f.predict(data="src/lstmkit/data/bundled/airpassengers.csv")    # doctest: +SKIP
    """
    task, config_class = "forecast", Config
    legacy_config = ("preprocessing", "config")
    META, PREPROCESSING = META, PREPROCESSING

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.net = self.frame = None
        self.blend = 1.0  # share of the network's median correction kept (_fit_blend)

    # ---- fit ---------------------------------------------------------------------------------
    def _fit(self, data, verbose, callbacks) -> "Forecaster":
        c = self.config
        frame = self._read(data, c.target, c.time_col)
        self._check_length(len(frame))
        self._setup(frame)
        n_fit = len(frame) - c.test_size
        values = frame.to_numpy()
        self.target_scaler = ts.Scaler.fit(values[:n_fit, :self.n_targets], log=self.log)
        past = self.n_targets + len(c.covariates)
        self.cov_scaler = ts.Scaler.fit(values[:n_fit, self.n_targets:past], log=False)
        self.known_scaler = ts.Scaler.fit(values[:n_fit, past:], log=False)
        z, cov, cal = self._arrays(frame)
        train, val = self._split(n_fit)
        self._fit_base(z, train, val)
        rng = np.random.default_rng(c.seed)
        x, y = ts.augment(*self._windows(z, cov, cal, train), self.n_targets, c.augment,
                          c.augment_copies, rng)
        xv, yv = self._windows(z, cov, cal, val)
        n_members = c.ensemble or scaling.ensemble_size(len(x))
        clock, members = RunClock(n_members, c.epochs), Members(callbacks)
        with _threads(c.threads):
            self.net = Ensemble([self._train_member(x, y, xv, yv, cal.shape[1], k, clock if verbose else None, members)
                                 for k in range(n_members)])
        members.close()
        self._fit_blend(z, cov, cal, val)
        return self

    def _fit_blend(self, z, cov, cal, val):
        """Keep the share in `hybrid.BLENDS` of the network's correction of the median that forecasts
        the validation windows best (the spread of its quantiles is kept): where the LSTM only adds
        noise to a good base (sunspots' autoregression, MSFT's last price), the base's own forecast
        is used, shrunk towards it where validation supports part of the correction."""
        x, bases = self._inputs(z, cov, cal, val, self.step)
        self.blend = 1.0
        d = self._run(x, np.zeros_like(bases))[..., list(self.config.quantiles).index(0.5)]  # (B, H, T)
        self.blend = hybrid.choose_blend(bases, d, z[val[:, None] + np.arange(1, self.step + 1)])

    def _fit_base(self, z, train, val):
        """The fitted base ("linear", "decomposition") on the training windows; for base="auto"
        (direct strategy), whichever of "last", the seasonal naive, "linear", "decomposition" and the
        average of two of them forecasts the validation folds best (hybrid.fold_errors, hybrid.choose);
        the chosen bases are then fitted on the pipeline's own training windows."""
        c = self.config
        self.linear = None
        if c.strategy != "direct" or c.base not in ("auto", *hybrid.FITTED):
            return
        fitted = hybrid.fit_bases(z, train, val, c.lookback, c.horizon, self.season)
        if c.base == "auto":
            names = hybrid.choose(hybrid.fold_errors(z, train, val, c.lookback, c.horizon, self.season,
                                                    fitted))
            if len(names) > 1:
                self.base = "combination"
                self.linear = hybrid.CombinedBase(names, {n: fitted[n] for n in names if n in fitted},
                                                  c.horizon, self.season, c.lookback)
                return
            self.base = names[0]
        elif c.base not in fitted:
            raise LstmkitError(f"base: 'decomposition' needs a season (> 1) with two full cycles before "
                               f"the validation windows; season length {self.season}, {val[0] + 1} steps")
        self.linear = fitted.get(self.base)

    def _read(self, data, target, time_col):
        c = self.config
        return read_series(data, target=target, time_col=time_col,
                           covariates=[*c.covariates, *c.future_covariates], fill=c.fill)

    def _setup(self, frame):
        """Settings that follow from the data: targets, frequency, season, transform, base."""
        c = self.config
        self.frame = frame
        self.targets = [col for col in frame.columns if col not in [*c.covariates, *c.future_covariates]]
        self.n_targets = len(self.targets)
        self.freq = ts.infer_freq(frame.index)
        dated = isinstance(frame.index, pd.DatetimeIndex)
        self.time_col = c.time_col or (frame.index.name if dated else None)  # what new data must hold
        self.season = c.season_length or ts.season_length(self.freq)
        fit_values = frame.to_numpy()[: len(frame) - c.test_size, :self.n_targets]
        self.log = c.transform == "log" or (c.transform == "auto" and bool((fit_values > 0).all()))
        seasonal_ok = 1 < self.season <= c.lookback
        # auto: seasonal or last here; _fit_base may then pick "linear" on the validation windows
        self.base = c.base if c.base != "auto" else ("seasonal" if seasonal_ok else "last")
        if self.base == "seasonal" and not seasonal_ok:
            raise LstmkitError(f"base: 'seasonal' needs 1 < season length ({self.season}) <= lookback "
                               f"({c.lookback})")
        self.step = 1 if c.strategy == "recursive" else c.horizon
        self.start, self.phase = _start(frame.index), 0

    def _phase_of(self, frame) -> int:
        """Steps from the training series' first step to `frame`'s (0 for the training series): the
        phase the decomposition base's profiles are read at."""
        if "decomposition" not in self._base_parts() or self.start is None or frame is self.frame:
            return 0
        if self.start[1] is not None and self.time_col is None:  # row numbers: read_series counts from 0
            raise DataError("data: base 'decomposition' reads its seasonal profiles at each step's place in "
                            "the series, which new data without a time column does not give; train and "
                            "forecast with a time column (time stamps or step numbers), got none")
        (first, step), now = self.start, frame.index[0]
        if step is not None:  # a numeric index
            return int(round((float(now) - first) / step))
        first, now = pd.Timestamp(first), pd.Timestamp(now)
        lo, hi = min(first, now), max(first, now)
        n = len(pd.date_range(lo, hi, freq=self.freq)) - 1
        return n if now >= first else -n

    def _base_parts(self) -> list:
        """The bases this model's forecast is relative to: [self.base], or a combination's two."""
        return self.linear.names if self.base == "combination" else [self.base]

    def _check_length(self, n):
        c = self.config
        need = ts.required_length(c.lookback, c.horizon, c.test_size)
        if n < need:
            raise DataError(f"data: the series has {n} steps; lookback {c.lookback} + 2 x horizon "
                            f"{c.horizon} + test {c.test_size} need at least {need}")

    def _arrays(self, frame, extra=0, future=None):
        """Scaled targets (N, T), past covariates (N, P) and known-future features (N + H + extra, C).

        `future` holds the future covariates after the data, (>= steps needed, K); without it those
        rows are NaN, which only forecasts after the end of the data would read.
        """
        values, steps = frame.to_numpy(), self.config.horizon + extra
        self.phase = self._phase_of(frame)  # of the series these arrays hold (decomposition base)
        T, P = self.n_targets, len(self.config.covariates)
        z = self.target_scaler.transform(values[:, :T])
        cov = self.cov_scaler.transform(values[:, T:T + P])
        ahead = np.full((steps, values.shape[1] - T - P), np.nan)
        if future is not None:
            ahead[: len(future)] = future[:steps]
        known = self.known_scaler.transform(np.concatenate([values[:, T + P:], ahead]))  # (N + steps, K)
        index = frame.index.append(ts.future_index(frame.index, self.freq, steps))
        cal = ts.calendar_features(index, self.freq) if self.config.calendar else np.zeros((len(index), 0))
        return z, cov, np.concatenate([known, cal], 1).astype(np.float32)

    def _split(self, n_fit):
        """Chronological training and validation origins inside the first n_fit steps."""
        L, H = self.config.lookback, self.step
        origins = np.arange(L - 1, n_fit - H)  # targets end at origin + H <= n_fit - 1
        k = max(1, min(round(0.15 * len(origins)), len(origins) - H))
        val = origins[-k:]
        return origins[origins <= val[0] - H], val  # training targets end before validation starts

    def _windows(self, z, cov, cal, origins):
        """Inputs (B, L+H, F) and targets relative to their base (B, H, T)."""
        x, bases = self._inputs(z, cov, cal, origins, self.step)
        ahead = origins[:, None] + np.arange(1, self.step + 1)  # (B, H)
        return x, z[ahead] - bases

    def _inputs(self, z, cov, cal, origins, horizon):
        if self.base in hybrid.RELATIVE:  # the lookback relative to the last value, targets to the base
            x, _ = ts.make_windows(z, cov, cal, origins, self.config.lookback, horizon, np.zeros(horizon, int),
                                   "last")
            return x, self.linear(z, origins, self.phase)[:, :horizon]
        offsets = ts.base_offsets(horizon, self.season, self.base)
        return ts.make_windows(z, cov, cal, origins, self.config.lookback, horizon, offsets, self.base)

    def _train_member(self, x, y, xv, yv, n_known, k, clock, members):
        """One ensemble member through `lstmkit.models.Model`, early-stopped on the validation windows
        (or, resuming, the member an earlier run finished: see `Members`)."""
        c = self.config
        set_seed(c.seed + k)
        net = ForecastNet(x.shape[2], n_known, self.n_targets, c.lookback, self.step, len(c.quantiles),
                          c.hidden_size, c.num_layers, c.dropout)
        if members.restore(k, net):
            return net.eval()
        per_epoch = scaling.epoch_windows(len(x), c.epoch_windows)
        patience = c.patience or scaling.patience_epochs(per_epoch)
        batch_size = c.batch_size or max(16, -(-per_epoch // 20))
        steps = None if per_epoch == len(x) else max(1, per_epoch // batch_size)  # None: one full pass
        epochs = scaling.max_epochs(per_epoch, c.epochs)
        if distributed.active():
            return distributed.fit(net, x, y, xv, yv, PinballLoss(c.quantiles), learning_rate=c.learning_rate,
                                   batch_size=batch_size, epochs=epochs, patience=patience, steps=steps,
                                   seed=c.seed + k)[0]
        model = Model(net)
        model.compile(optimizer=Adam(learning_rate=c.learning_rate), loss=PinballLoss(c.quantiles))
        stop = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        shown = [Progress(k, clock)] if clock else []
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, validation_data=(xv, yv),
                  callbacks=[stop, *shown, *members.callbacks(k)], steps_per_epoch=steps, precision=c.precision)
        members.finish(k, net)
        return net.eval()

    # ---- forecast ----------------------------------------------------------------------------
    def _forecast_z(self, z, cov, cal, origins, horizon):
        """Quantile forecasts in scaled units, (B, horizon, T, Q), sorted along Q."""
        if self.config.strategy == "direct":
            x, bases = self._inputs(z, cov, cal, origins, self.config.horizon)
            return self._run(x, bases)[:, :horizon]
        return self._recursive_z(z, cal, origins, horizon)

    def _recursive_z(self, z, cal, origins, horizon):
        """One step at a time along `samples` paths per origin: each step draws a value from the
        predicted quantiles and appends it to its path's history; the quantiles of the paths are
        the forecast, so the interval widens as errors accumulate. Returns (B, horizon, T, Q)."""
        c, L, T = self.config, self.config.lookback, self.n_targets
        rng = np.random.default_rng(c.seed)
        paths = np.repeat(origins, c.samples)  # (B*S,): every origin S times
        hist = z[paths[:, None] + np.arange(-L + 1, 1)]  # (B*S, L, T)
        cal_w = cal[paths[:, None] + np.arange(-L + 1, horizon + 1)]  # (B*S, L+horizon, C)
        flat_origins = np.arange(len(paths)) * (L + 1) + L - 1  # each window flattened as its own series
        for s in range(horizon):
            win = np.concatenate([hist[:, s:], np.zeros_like(hist[:, :1])], 1)  # (B*S, L+1, T): room for the step
            x, bases = self._inputs(win.reshape(-1, T), np.zeros((win.shape[0] * (L + 1), 0), np.float32),
                                    cal_w[:, s:s + L + 1].reshape(win.shape[0] * (L + 1), -1), flat_origins, 1)
            draw = sample_quantiles(self._run(x, bases)[:, 0], c.quantiles, rng)  # (B*S, T)
            hist = np.concatenate([hist, draw[:, None].astype(np.float32)], 1)
        ahead = hist[:, L:].reshape(len(origins), c.samples, horizon, T)
        return np.moveaxis(np.quantile(ahead, c.quantiles, axis=1), 0, -1)  # (B, horizon, T, Q)

    def _run(self, x, bases):
        with torch.no_grad():
            out = self.net(torch.from_numpy(x)).numpy()  # (B, H, T, Q) relative to the base
        m = list(self.config.quantiles).index(0.5)
        out = out - (1 - self.blend) * out[..., m:m + 1]  # shrink the median's correction, keep the spread
        return np.sort(out + bases[..., None], -1)  # sorting removes quantile crossing

    def predict(self, horizon: int | None = None, data=None, future=None) -> pd.DataFrame:
        """Forecast the steps after the end of the data seen by `fit` (or of `data`, read with the
        same columns and settings).

        Args:
            horizon: steps to forecast; at most the trained horizon for strategy "direct".
            data: optional new history (CSV path, DataFrame or Series), at least `lookback` steps.
            future: the future covariates for the steps after the data (CSV path or DataFrame with
                those columns, and the time column when the model has one); needed only when the
                model was trained with `future_covariates`.

        Returns:
            A frame indexed by the future time stamps with a column `<target>_p<q>` per target and
            quantile (`_p50` is the point forecast).
        """
        self._require_fit()
        c = self.config
        horizon = horizon or c.horizon
        if not isinstance(horizon, int) or horizon <= 0:
            raise LstmkitError(f"horizon: expected a positive integer, got {horizon!r}")
        if c.strategy == "direct" and horizon > c.horizon:
            raise LstmkitError(f"horizon: this model forecasts at most {c.horizon} steps directly, got "
                               f"{horizon}; train with a longer horizon or strategy='recursive'")
        if data is None and self.frame is None:
            raise LstmkitError("data: a loaded model forecasts after the history you pass: predict(data=...)")
        frame = self.frame if data is None else self._read(data, self.targets, self.time_col)
        if self.freq and not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(f"data: the model was trained on time stamps (frequency {self.freq}); "
                            f"give them as a time column (named {self.time_col!r} in training) or a DatetimeIndex")
        if len(frame) < c.lookback:
            raise DataError(f"data: {len(frame)} steps given, the model needs at least lookback = {c.lookback}")
        need = c.horizon if c.strategy == "direct" else horizon
        known = self._future_values(future, frame, need) if c.future_covariates else None
        z, cov, cal = self._arrays(frame, extra=horizon, future=known)
        q = self._forecast_z(z, cov, cal, np.array([len(frame) - 1]), horizon)[0]  # (H, T, Q)
        values = self.target_scaler.inverse(np.moveaxis(q, 2, 1))  # (H, Q, T)
        cols = {f"{t}_p{round(qq * 100)}": values[:, j, i] for i, t in enumerate(self.targets)
                for j, qq in enumerate(c.quantiles)}
        return pd.DataFrame(cols, index=ts.future_index(frame.index, self.freq, horizon))

    def _future_values(self, future, frame, need):
        """The next `need` values of the future covariates, (need, K), checked against the data's end."""
        c = self.config
        if future is None:
            raise DataError(f"future: the model uses known-future covariates {list(c.future_covariates)}; "
                            f"give their values for the {need} steps after the data (--future FILE.csv)")
        rows = read_series(future, target=list(c.future_covariates), time_col=self.time_col, fill=c.fill)
        if len(rows) < need:
            raise DataError(f"future: {len(rows)} rows given; the {need} steps after the data are needed")
        expected = ts.future_index(frame.index, self.freq, 1)[0]
        if isinstance(rows.index, pd.DatetimeIndex) and rows.index[0] != expected:
            raise DataError(f"future: starts at {rows.index[0]}; expected the step after the data, {expected}")
        return rows.to_numpy()[:need]

    def _require_fit(self):
        if self.net is None:
            raise LstmkitError("Forecaster: build one with train(data, config) or Forecaster.load(path)")

    def _to_units(self, q):
        """(B, H, T, Q) scaled quantiles -> original units."""
        return np.moveaxis(self.target_scaler.inverse(np.moveaxis(q, 3, 2)), 2, 3)

    # ---- evaluate ----------------------------------------------------------------------------
    def backtest(self, data=None) -> Backtest:
        """Rolling-origin evaluation over the held-out part of `data` (default: the series seen in
        training), next to the baselines fit on the part before it.

        The origins are every step from the last training step to the last one that leaves a
        full horizon: K = test_size - H + 1 windows, all of whose targets lie in the test part. The
        model is not refitted; like the baselines it sees the actual history up to each origin.

        Returns:
            A Backtest; its `metrics` maps "lstm", "naive", "seasonal_naive", "linear_ar" (and
            "auto_arima", "auto_ets", "mstl" when statsforecast is installed and `config.peers` allows) to
            {"mae", "rmse", "mape", "smape", "mase"} and the quantile scores of `probabilistic_metrics`.
        """
        self._require_fit()
        if data is None and self.frame is None:
            raise LstmkitError("data: a loaded model backtests on the series you pass: backtest(data)")
        frame = self.frame if data is None else self._read(data, self.targets, self.time_col)
        c, T, n = self.config, self.n_targets, len(frame)
        self._check_length(n)
        n_fit = n - c.test_size
        values = frame.to_numpy()[:, :T]
        origins = np.arange(n_fit - 1, n - c.horizon)
        quantiles = self._to_units(self._forecast_z(*self._arrays(frame), origins, c.horizon))
        actual = values[origins[:, None] + np.arange(1, c.horizon + 1)]  # (B, H, T)
        forecasts = {"lstm": quantiles[..., list(c.quantiles).index(0.5)]}
        bands, notes = self._baselines(values, n_fit, origins, forecasts)
        scale = mase_scale(values[:n_fit], self.season)
        metrics = {name: {**forecast_metrics(actual, f, scale),
                          **probabilistic_metrics(actual, quantiles if name == "lstm" else bands[name],
                                                  c.quantiles, scale)}
                   for name, f in forecasts.items()}
        inside = (actual >= quantiles[..., 0]) & (actual <= quantiles[..., -1])
        return Backtest(frame.index[origins], origins, actual, forecasts, quantiles, metrics,
                        float(inside.mean()), bands, notes)

    def _baselines(self, values, n_fit, origins, forecasts):
        """Every baseline's point forecasts at `origins` (added to `forecasts`) and its quantile band
        (B, H, T, Q): the point forecast plus the empirical quantiles of its errors on the last (at
        most 100) windows whose targets lie in the training part. Returns (bands, notes)."""
        c = self.config
        models = baselines.classical(values, n_fit, c.lookback, c.horizon, self.season)
        notes = []
        if c.peers == "on" or (c.peers == "auto" and len(values) <= PEERS_AUTO_MAX):
            found, notes = peer_models(values, n_fit, c.horizon, self.season)
            models.update(found)
        elif c.peers == "auto":
            notes = [f"peers: AutoARIMA, AutoETS and MSTL left out: {len(values)} steps > {PEERS_AUTO_MAX} "
                     f"(they re-run at each of the {len(origins)} origins); peers='on' (--peers on) runs them"]
        first = max(c.lookback, self.season) - 1  # seasonal naive reaches a season back
        fit_origins = np.arange(first, n_fit - c.horizon)[-100:]
        ahead = values[fit_origins[:, None] + np.arange(1, c.horizon + 1)]
        bands = {}
        for name, model in models.items():
            try:
                point, fitted = model(origins), model(fit_origins)
            except Exception as exc:  # a peer whose forward fails on this series is reported, not fatal
                notes.append(left_out(name, exc))
                continue
            forecasts[name] = point
            bands[name] = point[..., None] + residual_quantiles(ahead, fitted, c.quantiles)[None]
        return bands, notes

    # ---- save / load -------------------------------------------------------------------------
    def _parts(self):
        self._require_fit()
        prep = {"targets": self.targets, "time_col": self.time_col, "freq": self.freq, "season": self.season,
                "base": self.base, "log": self.log, "step": self.step,
                "target_scaler": self.target_scaler.to_dict(), "cov_scaler": self.cov_scaler.to_dict(),
                "known_scaler": self.known_scaler.to_dict(),
                "linear": self._part("linear"), "blend": self.blend,
                **({"decomposition": self._part("decomposition"), "start": self.start}
                   if "decomposition" in self._base_parts() else {}),
                **({"combination": {"names": self.linear.names, "horizon": self.step,
                                    "lookback": self.config.lookback}} if self.base == "combination" else {})}
        return {"net": self.net[0].config, "ensemble": len(self.net)}, self.net.state_dict(), prep

    def _part(self, name):
        """The saved form of the fitted base `name` when the forecast is relative to it, else None."""
        if name not in self._base_parts():
            return None
        return (self.linear.parts[name] if self.base == "combination" else self.linear).to_dict()

    @classmethod
    def load(cls, path, *, runtime="torch"):
        """`Predictor.load`; a directory a panel (global, many-series) model wrote loads as a
        PanelForecaster."""
        if cls is Forecaster and _holds_panel(path):
            from .panel import PanelForecaster
            return PanelForecaster.load(path, runtime=runtime)
        return super().load(path, runtime=runtime)

    @classmethod
    def _check(cls, config, meta, prep, where):
        check_saved(config, meta, prep, where)

    @classmethod
    def _network(cls, config, meta, prep):
        return Ensemble([ForecastNet(**meta["net"]) for _ in range(meta["ensemble"])])

    @classmethod
    def _restore(cls, config, meta, network, prep):
        self = cls(config)
        self.targets, self.n_targets, self.freq = prep["targets"], len(prep["targets"]), prep["freq"]
        self.time_col = prep["time_col"]
        self.season, self.base, self.log, self.step = prep["season"], prep["base"], prep["log"], prep["step"]
        self.target_scaler = ts.Scaler.from_dict(prep["target_scaler"])
        self.cov_scaler = ts.Scaler.from_dict(prep["cov_scaler"])
        self.known_scaler = ts.Scaler.from_dict(prep["known_scaler"])
        self.linear = hybrid.restore(prep)
        self.start, self.phase = prep.get("start"), 0
        self.blend = prep.get("blend", 1.0)  # model directories written before the blend existed
        self.net = network.eval()
        return self


def _start(index) -> list:
    """[the first time stamp, None] or [the first number of a numeric index, its step] (phases)."""
    if isinstance(index, pd.DatetimeIndex):
        return [str(index[0]), None]
    step = float(index[1] - index[0]) if len(index) > 1 else 1.0
    return [float(index[0]), step or 1.0]


def _holds_panel(path) -> bool:
    """Whether the model directory at `path` was written by a panel model (config "id_col" set); a
    directory that cannot be read is left for `Predictor.load` to refuse."""
    try:
        saved = open_model_dir(model_dir(path)).config.get("config")
    except (ModelFileError, OSError):
        return False
    return isinstance(saved, dict) and bool(saved.get("id_col"))
