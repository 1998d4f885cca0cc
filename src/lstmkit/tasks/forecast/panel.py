"""Many series, one global model: `train(frame, Config(id_col="store", ...))` -> a PanelForecaster.

Every series is scaled by its own statistics, fitted on its own training part (the steps before its
last `test_size`), so a global LSTM learns shape, not level; its forecasts are put back into the
series' units. Windows are cut from every series exactly as the single-series Forecaster cuts them
(the same code runs on one series at a time with that series' scalers), shuffled across series, and
the network also sees the series' static features (`panel_net.PanelNet`). A Parquet input is
streamed series by series in every pass (statistics, each epoch, the backtest), so memory holds a
shuffle buffer of windows and the per-series statistics, not the panel. With base="decomp" each
series has its own seasonal-trend base (panel_base) that the network corrects, and every series
keeps the share of the correction that forecasts its validation windows best; those bases' forecasts
are cached for every window (memory grows with the windows: for in-memory panels of modest size).

Shapes: S series; per series as in pipeline.py (N steps, L lookback, H horizon, Q quantiles).
"""
import contextlib
import dataclasses

import numpy as np
import pandas as pd
import torch

from ...data import panel as pdata
from ...data import timeseries as ts
from ...errors import DataError, LstmkitError
from ...seeding import set_seed
from . import panel_base, panel_io
from .config import check_freq
from .panel_io import restore_panel, save_panel
from .panel_net import PanelEnsemble, PanelNet, fit_member, shuffled_batches
from .panel_scores import PanelBacktest, aggregate
from .pipeline import Forecaster, _threads
from .progress import Progress, RunClock

VAL_PER_SERIES = 8        # validation windows kept per series (the latest ones, evenly spaced)
SHUFFLE_BUFFER = 200_000  # windows held before shuffling: bounds memory on a streamed panel
PEERS_PANEL_MAX = 20_000  # steps over all series; beyond, peers="auto" leaves the statsforecast peers out


class PanelForecaster(Forecaster):
    """A global LSTM forecaster over many series: predict, backtest, save and load as `Forecaster`,
    with per-series results. Build one with `forecast.train(data, Config(id_col=...))`.

    Example:
        >>> from lstmkit.tasks.forecast import Config
        >>> df = pd.DataFrame({"id": np.repeat(["a", "b"], 80), "y": np.tile(np.arange(80.0), 2) % 7})
        >>> f = PanelForecaster(Config(id_col="id", horizon=4, lookback=14, test_size=8, epochs=1,
        ...                            ensemble=1, calendar=False))._fit(df, 0, [])   # doctest: +SKIP
        >>> f.predict().columns.tolist()                                               # doctest: +SKIP
        ['id', 'time', 'y_p10', 'y_p50', 'y_p90']
    """

    def __init__(self, config=None):
        super().__init__(config)
        self.source = None

    # ---- reading ---------------------------------------------------------------------------
    def _spec(self, min_length=1):
        c = self.config
        target = c.target[0] if isinstance(c.target, list) and len(c.target) == 1 else c.target
        if not isinstance(target, str):
            raise LstmkitError(f"target: a panel forecasts one column; name it (target='sales'), got {c.target!r}")
        return pdata.PanelSpec(c.id_col, target, c.time_col, [*c.covariates, *c.future_covariates],
                               list(c.static_covariates), c.fill, min_length)

    def _open(self, data, min_length=1):
        """A re-iterable source of SeriesRecords: a list in memory, or a Parquet stream."""
        spec = self._spec(min_length)
        if pdata.is_parquet(data):
            list(pdata.stream_parquet(data, spec, columns_only=True))  # the columns, before any pass
            return _Stream(data, spec)
        return pdata.read_panel(data, spec)

    # ---- fit -------------------------------------------------------------------------------
    def _fit(self, data, verbose, callbacks):
        from ...models.backup import BackupAndRestore

        c = self.config
        if any(isinstance(cb, BackupAndRestore) for cb in callbacks):
            # one backup directory would be shared by every member, and the epochs' shuffles come from
            # a generator of the panel's own that a backup does not hold: a resumed run would differ
            raise LstmkitError("callbacks: a many-series (id_col) model cannot resume from a BackupAndRestore "
                               "yet; train it without one")
        self.source = self._open(data, ts.required_length(c.lookback, c.horizon, c.test_size))
        self._first_pass(self.source)
        val = self._validation()
        rng = np.random.default_rng(c.seed)
        batch_size = c.batch_size or min(1024, max(16, self.n_windows // 20))
        clock = RunClock(c.ensemble, c.epochs)
        members = []
        with _threads(c.threads):
            for k in range(c.ensemble):
                set_seed(c.seed + k)
                net = PanelNet(val[0].shape[2], self.n_known, c.lookback, self.step, len(c.quantiles),
                               self.cardinalities, len(self.numeric), c.hidden_size, c.num_layers, c.dropout)
                batches = lambda epoch: shuffled_batches(self._chunks(rng), batch_size, SHUFFLE_BUFFER, rng)  # noqa: E731
                shown = [Progress(k, clock)] if verbose else []
                members.append(fit_member(net, batches, val, quantiles=c.quantiles, learning_rate=c.learning_rate,
                                          epochs=c.epochs, patience=c.patience, callbacks=[*shown, *callbacks],
                                          precision=c.precision))
        self.net = PanelEnsemble(members)
        self._fit_blends()
        return self

    def _fit_blends(self):
        """Per series, keep 1, 0.5 or none of the network's correction of the median, whichever
        forecasts that series' validation windows best (`Forecaster._fit_blend`, series by series):
        where the global network only adds noise to a good base, the series keeps the base."""
        c, self.blends = self.config, {}
        for rec in self.source:
            self._select(rec.id)
            z, cov, cal = self._arrays(rec.frame)
            self._fit_blend(z, cov, cal, self._split(len(rec.frame) - c.test_size)[1])
            self.blends[rec.id] = self.blend
        self.blend = 1.0

    def _first_pass(self, source):
        """Ids, per-series scalers and static features; the settings that follow from the data."""
        c, first = self.config, None
        self.ids, self.scalers, statics, self.n_windows = [], {}, [], 0
        for rec in source:
            if first is None:
                first = rec
                self._setup(rec.frame)  # frequency, season, base, targets from the first series
                if self.base == "decomp" and self.season < 2:
                    raise LstmkitError(f"base: 'decomp' needs a season length > 1 (season_length=12 for monthly "
                                       f"data), got {self.season}")
            freq = ts.infer_freq(rec.frame.index)
            if freq != self.freq and len(rec.frame) >= 3:
                raise DataError(f"data: series {rec.id!r} has frequency {freq}, series {first.id!r} {self.freq}; "
                                f"one panel holds series of one frequency")
            self.ids.append(rec.id)
            train = len(self._split(len(rec.frame) - c.test_size)[0])
            self.n_windows += min(train, c.series_windows or train)  # training windows an epoch
            self.scalers[rec.id] = self._fit_scalers(rec.frame)
            statics.append(rec.static)
        self.frame = None
        self._static_vocab(statics)
        self.n_known = len(c.future_covariates) + ts.calendar_features(first.frame.index[:1], self.freq).shape[1] \
            if c.calendar else len(c.future_covariates)
        self.n_known += self.base == "decomp"  # the base's own path, relative to the origin's value
        self.decomp = {}

    def _fit_scalers(self, frame):
        """The series' own scalers on its training part; log only where all its values are > 0."""
        c, T, P = self.config, 1, len(self.config.covariates)
        values = frame.to_numpy()[: len(frame) - c.test_size]
        log = c.transform == "log" or (c.transform == "auto" and bool((values[:, :T] > 0).all()))
        return (ts.Scaler.fit(values[:, :T], log=log), ts.Scaler.fit(values[:, T:T + P], log=False),
                ts.Scaler.fit(values[:, T + P:], log=False))

    def _static_vocab(self, statics):
        """Categorical static columns -> sorted vocabularies; numeric ones -> mean and std over series."""
        c = self.config
        self.vocab, self.numeric = {}, {}
        for col in c.static_covariates:
            values = [s[col] for s in statics]
            if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
                v = np.asarray(values, np.float64)
                self.numeric[col] = (float(v.mean()), float(v.std()) or 1.0)
            else:
                self.vocab[col] = sorted({str(v) for v in values})
        self.static_rows = {sid: self._static_row(s) for sid, s in zip(self.ids, statics)}
        self.cardinalities = ([len(self.ids)] if c.series_embedding else []) + [len(v) for v in self.vocab.values()]

    def _static_row(self, static):
        codes = [self.vocab[col].index(str(static[col])) for col in self.vocab]
        numeric = [(float(static[col]) - m) / s for col, (m, s) in self.numeric.items()]
        return codes, numeric

    def _select(self, sid):
        """Point the single-series machinery at series `sid`: its scalers and static features."""
        if sid not in self.scalers:
            raise DataError(f"data: series {sid!r} was not in training; this model forecasts the series it "
                            f"was trained on ({len(self.ids)}, e.g. {self.ids[:3]})")
        self.target_scaler, self.cov_scaler, self.known_scaler = self.scalers[sid]
        codes, numeric = self.static_rows[sid]
        ident = [self.ids.index(sid)] if self.config.series_embedding else []
        self.codes = np.asarray(ident + codes, np.int64)
        self.numeric_row = np.asarray(numeric, np.float32)
        self.sid, self.blend = sid, getattr(self, "blends", {}).get(sid, 1.0)

    def _series_windows(self, rec, which, rng=None):
        """(x, y, codes, numeric) for one series' training ("train") or validation ("val") windows."""
        c = self.config
        self._select(rec.id)
        train, val = self._split(len(rec.frame) - c.test_size)
        origins = train if which == "train" else val[np.unique(np.linspace(0, len(val) - 1, VAL_PER_SERIES).round().astype(int))]
        if which == "train" and c.series_windows and len(origins) > c.series_windows:
            origins = np.sort(rng.choice(origins, c.series_windows, replace=False))
        x, y = self._windows(*self._arrays(rec.frame), origins)
        return x, y, np.repeat(self.codes[None], len(x), 0), np.repeat(self.numeric_row[None], len(x), 0)

    def _chunks(self, rng):
        for rec in self.source:
            yield self._series_windows(rec, "train", rng)

    def _validation(self):
        parts = [self._series_windows(rec, "val") for rec in self.source]
        return tuple(np.concatenate(a) for a in zip(*parts))

    def _inputs(self, z, cov, cal, origins, horizon):
        """As `Forecaster._inputs`; for base "decomp" the lookback is relative to the origin's value,
        the targets to the series' decomposition base (panel_base), whose path relative to the
        origin's value is one more known-future column."""
        if self.base != "decomp":
            return super()._inputs(z, cov, cal, origins, horizon)
        x, _ = ts.make_windows(z, cov, cal, origins, self.config.lookback, horizon, np.zeros(horizon, int), "last")
        bases = self._decomp_base(z)(z[:, 0], origins)[:, :horizon, None]  # (B, H, 1)
        path = np.zeros((len(x), x.shape[1], 1), np.float32)
        path[:, self.config.lookback:] = bases - z[origins][:, None]
        return np.concatenate([x, path], 2), bases  # (B, L+H, F+1)

    def _decomp_base(self, z):
        """The current series' DecompBase, fitted (as its scalers) on its training part, all but the
        last test_size steps of the history given: a loaded model refits it, deterministically, on
        the same steps."""
        n = len(z) - self.config.test_size if len(z) - self.config.test_size > 2 * self.season else len(z)
        key = (self.sid, n, hash(z[:n].tobytes()))
        if key not in self.decomp:
            one = ts.Scaler(self.target_scaler.log, self.target_scaler.mean[:1], self.target_scaler.std[:1])
            self.decomp[key] = panel_base.DecompBase(self.season, self.step, scaler=one).fit(z[:, 0], n)
        return self.decomp[key]

    def _run(self, x, bases):
        n = len(x)
        with torch.no_grad():
            out = self.net(torch.from_numpy(x), torch.from_numpy(np.repeat(self.codes[None], n, 0)),
                           torch.from_numpy(np.repeat(self.numeric_row[None], n, 0))).numpy()
        m = list(self.config.quantiles).index(0.5)
        out = out - (1 - self.blend) * out[..., m:m + 1]  # the series' share of the median's correction
        return np.sort(out + bases[..., None], -1)

    # ---- forecast --------------------------------------------------------------------------
    def predict(self, horizon=None, data=None, future=None) -> pd.DataFrame:
        """Forecast the steps after the end of every series (of the training data, or of `data`).

        Args:
            horizon: steps to forecast (at most the trained horizon for strategy "direct").
            data: optional new history, long format with the id column (the series must be ones the
                model was trained on).
            future: the future covariates after the data, long format with the id column (and the
                time column); needed only when the model has `future_covariates`.

        Returns:
            A long frame: the id column, "time", and `<target>_p<q>` per quantile (`_p50` the point).
        """
        self._require_fit()
        if data is None and self.source is None:
            raise LstmkitError("data: a loaded model forecasts after the history you pass: predict(data=...)")
        source = self.source if data is None else self._open(data)
        futures = self._future_frames(future, source) if self.config.future_covariates else {}
        frames = []
        for rec in source:
            self._select(rec.id)
            out = Forecaster.predict(self, horizon, data=rec.frame, future=futures.get(rec.id))
            frames.append(out.rename_axis("time").reset_index().assign(**{self.config.id_col: rec.id}))
        result = pd.concat(frames, ignore_index=True)
        return result[[self.config.id_col, *[c for c in result.columns if c != self.config.id_col]]]

    def _read(self, data, target, time_col):
        if isinstance(data, pd.DataFrame) and self.config.id_col not in data.columns:
            return data  # one series of the panel, already read
        return super()._read(data, target, time_col)

    def _future_frames(self, future, source):
        """The future covariates per series id; an id absent from the data is refused."""
        c = self.config
        if future is None:
            raise DataError(f"future: the model uses known-future covariates {list(c.future_covariates)}; give "
                            f"their values for the steps after the data, with the id column (--future FILE.csv)")
        spec = pdata.PanelSpec(c.id_col, c.future_covariates[0], c.time_col, list(c.future_covariates[1:]))
        rows = {r.id: r.frame.reset_index() if c.time_col else r.frame for r in pdata.read_panel(future, spec)}
        known = {r.id for r in source}
        extra = [sid for sid in rows if sid not in known]
        if extra:
            raise DataError(f"future: series {extra[0]!r} is not in --data; every id in the future covariates "
                            f"needs its history")
        return rows

    # ---- evaluate --------------------------------------------------------------------------
    def backtest(self, data=None) -> PanelBacktest:
        """Rolling origins over each series' held-out part, next to the baselines (see
        `Forecaster.backtest`), per series and aggregated (`panel_scores.aggregate`)."""
        self._require_fit()
        if data is None and self.source is None:
            raise LstmkitError("data: a loaded model backtests on the series you pass: backtest(data)")
        c = self.config
        source = self.source if data is None else self._open(data, ts.required_length(c.lookback, c.horizon, c.test_size))
        keep = isinstance(source, list)
        peers = c.peers
        if peers == "auto":
            steps = sum(len(r.frame) for r in source)
            peers = "on" if steps <= PEERS_PANEL_MAX else "off"
        series, per_series, frames, notes = {}, {}, {}, []
        with self._peers(peers):
            for rec in source:
                self._select(rec.id)
                bt = Forecaster.backtest(self, rec.frame)
                per_series[rec.id] = bt.metrics
                notes += [f"{rec.id}: {n}" for n in bt.notes]
                if keep or len(series) < 4:
                    series[rec.id], frames[rec.id] = bt, rec.frame
        if c.peers == "auto" and peers == "off":
            notes.append(f"peers: AutoARIMA, AutoETS and MSTL left out: the panel has more than {PEERS_PANEL_MAX} "
                         f"steps; peers='on' (--peers on) runs them")
        if self.base == "decomp" and panel_base.engine() == "numpy":
            notes.append(panel_base.FALLBACK_NOTE)
        return PanelBacktest(series, frames, per_series, aggregate(per_series), notes)

    @contextlib.contextmanager
    def _peers(self, peers):
        before = self.config
        self.config = dataclasses.replace(before, peers=peers)
        try:
            yield
        finally:
            self.config = before

    # ---- save / load -----------------------------------------------------------------------
    def _parts(self):
        self._require_fit()
        return save_panel(self)

    META, PREPROCESSING = panel_io.META, panel_io.PREPROCESSING

    @classmethod
    def _check(cls, config, meta, prep, where):
        """Types were checked by the schema above; ids against scalers and statics as they are read
        (`panel_io.restore_panel`)."""
        check_freq(prep["freq"], f"{where['preprocessing']} freq")

    @classmethod
    def _network(cls, config, meta, prep):
        return PanelEnsemble([PanelNet(**meta["net"]) for _ in range(meta["ensemble"])])

    @classmethod
    def _restore(cls, config, meta, network, prep):
        self = cls(config)
        restore_panel(self, meta, prep)
        self.net = network.eval()
        return self


class _Stream:
    """A Parquet panel, re-read series by series on every pass."""

    def __init__(self, path, spec):
        self.path, self.spec = path, spec

    def __iter__(self):
        return pdata.stream_parquet(self.path, self.spec)
