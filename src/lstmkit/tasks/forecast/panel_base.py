"""The panel's decomposition base (`base="decomp"`): a per-series seasonal-trend forecast that the
global LSTM corrects, the hybrid idea of ES-RNN (Smyl 2020) on many series.

For one series in scaled units z, with m the season:

    z[t] = trend[t] + season[t] + remainder[t]
    b_h(t) = trend forecast of the seasonally adjusted series z - season, h steps after t,
             + the season of step t + h

and the network learns y[t+h] - b_h(t). The decomposition runs on the history up to each origin
(no future value enters a window's base); its trend model's parameters are fitted once per series
on the series' training part (as its scalers are), never on the held-out test steps.

Two implementations, the same contract:
- statsforecast's MSTL (STL with an AutoETS trend; the `peers` extra) when installed;
- else a numpy fallback: a classical decomposition (a centred 2 x m moving average, the mean
  detrended value of each phase over the last `YEARS` seasons) and a damped Holt trend whose
  smoothing parameters are chosen on the fitting part from a small grid.

Shapes: N steps, B windows (by origin), H horizon; z is (N,) here, one series.
"""
import importlib.util

import numpy as np

YEARS = 4  # seasons of history the fallback's seasonal profile averages (recent ones: patterns drift)
FALLBACK_NOTE = ("base: 'decomp' ran on the numpy fallback (classical decomposition + damped Holt): statsforecast "
                 "is not installed (pip install 'lstmkit[peers]' for its MSTL)")
_GRID = [(a, b, p) for a in (0.2, 0.4, 0.6, 0.8, 1.0) for b in (0.02, 0.1, 0.3) for p in (0.8, 0.9, 0.98)]


def engine() -> str:
    """"mstl" when statsforecast is installed, else "numpy" (the fallback above)."""
    return "mstl" if importlib.util.find_spec("statsforecast") is not None else "numpy"


class DecompBase:
    """One series' seasonal-trend base, fitted on `z[:n]`; `base(z, origins)` -> (B, H).

    Args:
        season: m (> 1). horizon: H. kind: "mstl" or "numpy" (default: `engine()`).
        scaler: the series' target scaler (`timeseries.Scaler`, one column), or None. With it the
            decomposition runs on the series in its own units (`scaler.inverse(z)`: positive counts
            stay positive, so MSTL's AutoETS trend may choose multiplicative errors as it does on
            the raw series) and its forecast is scaled back (`scaler.transform`); the base is then
            the forecast MSTL itself makes from the raw history.

    Example:
        >>> t = np.arange(120.0)
        >>> z = 0.01 * t + np.sin(2 * np.pi * t / 12)
        >>> b = DecompBase(12, 6, kind="numpy").fit(z, 100)
        >>> bool(np.abs(b(z, np.array([100]))[0] - z[101:107]).max() < 0.05)
        True
    """

    def __init__(self, season: int, horizon: int, kind: str | None = None, scaler=None):
        self.season, self.horizon, self.kind, self.scaler = season, horizon, kind or engine(), scaler
        self.model, self.params, self._cache = None, None, {}

    def _units(self, z):
        """z (N,) in the units the decomposition runs in (float64)."""
        z = np.asarray(z, np.float64)
        return z if self.scaler is None else np.asarray(self.scaler.inverse(z[:, None]), np.float64)[:, 0]

    def fit(self, z: np.ndarray, n: int) -> "DecompBase":
        z = self._units(np.asarray(z)[:n])
        if self.kind == "mstl":
            from statsforecast.models import MSTL  # optional (the `peers` extra); engine() checked
            self.model = MSTL(season_length=[self.season]).fit(z)
        else:
            sa = z - _profile(z, self.season)[np.arange(n) % self.season]
            self.params = _fit_holt(sa, self.horizon)
        return self

    def __call__(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The base (B, H) at each origin, from z[:origin + 1] only (cached per history)."""
        z = np.asarray(z, np.float64)
        return np.stack([self._one(z, int(o)) for o in np.asarray(origins)]).astype(np.float32)

    def _one(self, z, o):
        key = (o, hash(z[:o + 1].tobytes()))  # training passes ask for the same windows every epoch
        if key not in self._cache:
            history = self._units(z[:o + 1])
            ahead = self._forecast(history)
            if self.scaler is not None and self.scaler.log:  # a log-scaled series stays positive: a
                ahead = np.maximum(ahead, 1e-3 * history.min())  # trend forecast below zero is floored
            self._cache[key] = ahead if self.scaler is None else self.scaler.transform(ahead[:, None])[:, 0]
        return self._cache[key]

    def _forecast(self, history):
        if self.kind == "mstl":
            return self.model.forward(history, h=self.horizon)["mean"]
        m, n = self.season, len(history)
        profile = _profile(history, m)
        sa = history - profile[np.arange(n) % m]
        ahead = np.arange(n, n + self.horizon) % m
        return _holt(sa, *self.params, self.horizon) + profile[ahead]


def _profile(z, m):
    """(m,) seasonal effect of each phase (phase = step % m), mean zero: the mean of z minus its
    centred 2 x m moving average over the last YEARS seasons where that average exists."""
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(z, w, mode="valid")  # (n - m,): centred at steps m/2 .. n - 1 - m/2
    steps = np.arange(m // 2, m // 2 + len(trend))
    detrended = z[steps] - trend
    keep = steps >= steps[-1] - YEARS * m
    phase = steps[keep] % m
    effect = np.array([detrended[keep][phase == k].mean() if (phase == k).any() else 0.0 for k in range(m)])
    return effect - effect.mean()


def _holt(a, alpha, beta, phi, horizon, origins=None):
    """Damped Holt on a (N,): level l and trend b, l' = αa + (1-α)(l + φb), b' = β(l' - l) + (1-β)φb;
    the forecast h steps on is l + (φ + ... + φ^h) b. Returns (H,) after the last step, or (B, H)
    after each of `origins`."""
    damp = np.cumsum(phi ** np.arange(1, horizon + 1))
    level, trend, out = a[0], a[1] - a[0], []
    want = set(range(len(a) - 1, len(a))) if origins is None else set(int(o) for o in origins)
    for t in range(1, max(want) + 1):
        prev = level
        level = alpha * a[t] + (1 - alpha) * (level + phi * trend)
        trend = beta * (level - prev) + (1 - beta) * phi * trend
        if t in want:
            out.append(level + damp * trend)
    return out[0] if origins is None else np.stack(out)


def _fit_holt(a, horizon):
    """(α, β, φ) of the grid with the lowest mean absolute H-step error on a's own windows."""
    origins = np.arange(min(len(a) - horizon - 1, 2 * horizon), len(a) - horizon)
    ahead = a[origins[:, None] + np.arange(1, horizon + 1)]
    errors = [np.abs(_holt(a, *p, horizon, origins) - ahead).mean() for p in _GRID]
    return _GRID[int(np.argmin(errors))]
