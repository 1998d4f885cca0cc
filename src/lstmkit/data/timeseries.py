"""Time-series building blocks: frequency and season, calendar features, a scaler fitted on the
training part only, lookback/horizon windows and augmentation for small series.

Shapes: N time steps, T target columns, P past covariates, C calendar (known-future) features,
L lookback, H horizon, B windows.
"""
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from ..errors import DataError


def infer_freq(index) -> str | None:
    """The frequency string of a time index, or None for a plain integer index.

    Trading days (weekdays with holiday gaps) give "B"; other irregular indexes give their most
    common step, so future timestamps can still be generated.

    Args:
        index: a pandas DatetimeIndex or RangeIndex.

    Returns:
        A pandas frequency string such as "MS", "D", "B", "30min", or None.

    Example:
        >>> infer_freq(pd.date_range("2020-01-01", periods=5, freq="MS"))
        'MS'
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(index)
    if freq is not None:
        return to_offset(freq).freqstr
    if (index.day_of_week < 5).all() and pd.Series(index).diff().min() >= pd.Timedelta(days=1):
        return "B"
    step = pd.Series(index).diff().mode().iloc[0]
    return to_offset(step).freqstr


def season_length(freq: str | None) -> int:
    """The natural season (in steps) of a frequency: 12 for monthly, 7 for daily, 48 for 30min, ...

    Args:
        freq: a pandas frequency string or None.

    Returns:
        The season length m >= 1 (1 means no seasonality: seasonal naive equals naive).

    Example:
        >>> season_length("MS"), season_length("30min"), season_length(None)
        (12, 48, 1)
    """
    if freq is None:
        return 1
    offset = to_offset(freq)
    per_unit = {"MonthBegin": 12, "MonthEnd": 12, "QuarterBegin": 4, "QuarterEnd": 4,
                "Week": 52, "BusinessDay": 5, "Day": 7, "Hour": 24, "Minute": 24 * 60}
    m = per_unit.get(type(offset).__name__, 1)
    return max(1, m // offset.n) if m % offset.n == 0 else 1


def future_index(index, freq: str | None, steps: int):
    """The `steps` time stamps after the end of `index`; a numeric index continues with its last step.

    Example:
        >>> list(future_index(pd.Index([2000, 2002, 2004]), None, 2))
        [2006, 2008]
    """
    if freq is None:
        step = index[-1] - index[-2] if len(index) > 1 else 1
        return pd.Index(index[-1] + step * np.arange(1, steps + 1), name=index.name)
    return pd.date_range(index[-1], periods=steps + 1, freq=freq)[1:]


def calendar_features(index, freq: str | None) -> np.ndarray:
    """Known-future features from the time stamps: sine/cosine of the cycles the frequency has.

    Monthly and quarterly data get the position in the year; daily data the day of the week and of
    the year; intra-day data the time of day and the day of the week. Yearly or integer indexes get
    none.

    Args:
        index: DatetimeIndex (or RangeIndex) of N stamps.
        freq: its frequency string.

    Returns:
        (N, C) float32 array, C in {0, 2, 4}.

    Example:
        >>> calendar_features(pd.date_range("2020-01-01", periods=3, freq="MS"), "MS").shape
        (3, 2)
    """
    if freq is None or not isinstance(index, pd.DatetimeIndex):
        return np.zeros((len(index), 0), np.float32)
    kind = type(to_offset(freq)).__name__
    if kind in ("MonthBegin", "MonthEnd", "QuarterBegin", "QuarterEnd"):
        phases = [(index.month - 1) / 12]
    elif kind in ("Day", "BusinessDay", "Week"):
        phases = [index.day_of_week / 7, (index.day_of_year - 1) / 365.25]
    elif kind in ("Hour", "Minute"):
        phases = [(index.hour * 60 + index.minute) / 1440, index.day_of_week / 7]
    else:
        phases = []
    cols = [f(2 * np.pi * np.asarray(p, np.float64)) for p in phases for f in (np.sin, np.cos)]
    return np.stack(cols, 1).astype(np.float32) if cols else np.zeros((len(index), 0), np.float32)


@dataclass
class Scaler:
    """Optional log transform, then standardisation per column; fitted on the training part only.

    Args:
        log: apply log(y) first (chosen when every training value is positive).
        mean, std: per-column statistics of the (log-)values, (K,).

    Example:
        >>> s = Scaler.fit(np.array([[1.0], [2.0], [4.0]]), log=True)
        >>> bool(np.allclose(s.inverse(s.transform(np.array([[3.0]]))), 3.0))
        True
    """
    log: bool
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, *, log: bool) -> "Scaler":
        """Fit on (N, K) training values."""
        if log and (values <= 0).any():
            raise DataError("transform: 'log' needs every training value > 0; use transform='none'")
        v = np.log(values) if log else values
        std = v.std(0)
        return cls(log, v.mean(0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        v = np.log(np.maximum(values, 1e-12)) if self.log else values
        return ((v - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        v = z * self.std + self.mean
        return np.exp(v) if self.log else v

    def to_dict(self) -> dict:
        return {"log": self.log, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(bool(d["log"]), np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64))


def base_offsets(horizon: int, season: int, base: str) -> np.ndarray:
    """For each step h = 1..H, the offset from the origin of the value the forecast is relative to.

    "last": every step is relative to the last observed value (offset 0); "seasonal": to the value
    one season earlier than the step, h - m*ceil(h/m) (<= 0); "none": no base (forecast the level).

    Example:
        >>> base_offsets(3, 2, "seasonal").tolist()
        [-1, 0, -1]
    """
    h = np.arange(1, horizon + 1)
    if base == "seasonal":
        return h - season * np.ceil(h / season).astype(int)
    return np.zeros(horizon, int)


def make_windows(z, covariates, calendar, origins, lookback, horizon, offsets, base):
    """Cut model inputs and targets around each origin (index of the last observed step).

    Target columns in the lookback are given relative to the value at the origin (unless base is
    "none"), which makes the network blind to the level and so robust to trends that carry the test
    period outside the training range. The H rows after the lookback hold only the known-future
    calendar features; target and covariate columns are zero there.

    Args:
        z: (N, T) scaled targets; covariates: (N, P) scaled past covariates; calendar: (N + extra, C).
        origins: (B,) ints with origin - L + 1 >= 0.
        lookback, horizon: L, H. offsets: (H,) from `base_offsets`. base: "last", "seasonal", "none".

    Returns:
        x (B, L+H, T+P+C) float32, and the base values (B, H, T) that targets are relative to.
    """
    origins = np.asarray(origins)
    past = origins[:, None] + np.arange(-lookback + 1, 1)  # (B, L)
    ahead = origins[:, None] + np.arange(1, horizon + 1)  # (B, H)
    zero = np.zeros_like(z[:1]) if base == "none" else z[origins][:, None]  # (B, 1, T)
    lag = np.concatenate([z[past] - zero, covariates[past], calendar[past]], 2)  # (B, L, T+P+C)
    blank = np.zeros((len(origins), horizon, z.shape[1] + covariates.shape[1]), np.float32)
    lead = np.concatenate([blank, calendar[ahead]], 2)  # (B, H, T+P+C)
    bases = np.zeros((len(origins), horizon, z.shape[1]), np.float32) if base == "none" \
        else z[origins[:, None] + offsets]  # (B, H, T)
    return np.concatenate([lag, lead], 1).astype(np.float32), bases.astype(np.float32)


def augment(x, y, n_targets, kinds, copies, rng):
    """Extra training windows for small series: "jitter" adds noise to the lookback, "scale"
    multiplies the (relative) target columns of lookback and targets by one factor per window.

    Args:
        x: (B, L+H, F) windows; y: (B, H, T) relative targets; n_targets: T.
        kinds: a subset of ("jitter", "scale"); copies: augmented copies per window.
        rng: a numpy Generator.

    Returns:
        (x, y) with the originals followed by the augmented copies.
    """
    xs, ys = [x], [y]
    for _ in range(copies if kinds else 0):
        xa, ya = x.copy(), y.copy()
        if "scale" in kinds:
            f = rng.normal(1.0, 0.1, (len(x), 1, 1)).astype(np.float32)
            xa[..., :n_targets] *= f
            ya *= f
        if "jitter" in kinds:
            lookback = x.shape[1] - y.shape[1]
            xa[:, :lookback, :n_targets] += rng.normal(0, 0.03, xa[:, :lookback, :n_targets].shape)
        xs.append(xa.astype(np.float32))
        ys.append(ya.astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def required_length(lookback: int, horizon: int, test_size: int) -> int:
    """The shortest series that leaves one training window, one validation window that starts after
    the training targets end, and `test_size` held-out steps: L + 2H + test.

    Example:
        >>> required_length(24, 12, 24)
        72
    """
    return lookback + 2 * horizon + test_size
