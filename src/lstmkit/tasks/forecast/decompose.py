"""The "decomposition" base: several seasonal profiles plus a linear autoregression on what they leave.

A multi-seasonal decomposition in the spirit of MSTL (Bandara et al. 2021), in numpy only so the
default path needs no optional package. On the fitting part z[0:n] (scaled units) it estimates, by
backfitting, one additive profile per season m_1 < m_2 < ... (e.g. 48 and 336 for half-hourly data,
the day and the week):

    trend  = moving average over the longest season of  z - sum_k s_k
    s_k[p] = mean over i = p (mod m_k) of  z[i] - trend[i] - sum_{j != k} s_j[i mod m_j]   (centred)

The seasonal part of step i is S(i) = sum_k s_k[i mod m_k]; what is left, d = z - S, is forecast by
a direct linear autoregression (one least-squares fit per step h on the training windows):

    b_h(t) = S(t + h) + a_h + sum_j c_hj d[t - j]

so the profiles carry the fixed cycles, the autoregression the level and short dynamics, and the
LSTM learns the errors of the sum (the hybrid idea of ES-RNN, Smyl 2020). The phase of a step is its
index in the series, so the base needs no time stamps.

Shapes: N steps, T targets, B windows (by origin), H horizon, L lookback, m a season length.
"""
import numpy as np

from .baselines import LinearAR

SWEEPS = 3  # backfitting passes: profiles change by well under 1% after the third on real series


def seasons_for(season: int, n_fit: int) -> list:
    """The seasons to decompose: the data's, and the week too for hourly (24) and half-hourly (48)
    steps, each kept only when the fitting part holds at least two full cycles of it.

    Example:
        >>> seasons_for(48, 2000), seasons_for(48, 500), seasons_for(1, 500)
        ([48, 336], [48], [])
    """
    extra = {24: [24 * 7], 48: [48 * 7]}.get(season, [])
    return [m for m in [season, *extra] if m > 1 and 2 * m <= n_fit]


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of (N, T) over `window` steps, the window shrinking at the ends."""
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)])
    i = np.arange(len(x))
    lo, hi = np.maximum(0, i - window // 2), np.minimum(len(x), i - window // 2 + window)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def profiles(z: np.ndarray, seasons: list, sweeps: int = SWEEPS) -> list:
    """The seasonal profiles of z by backfitting (see the module docstring).

    Args:
        z: (N, T) the fitting part; seasons: season lengths, each at most N / 2.

    Returns:
        A list of (m_k, T) arrays, each centred (mean 0 over its cycle).

    Example:
        >>> i = np.arange(480)
        >>> z = (np.sin(2 * np.pi * i / 24) + 0.5 * (i % 96 < 48))[:, None]
        >>> p = profiles(z, [24, 96])
        >>> round(float(np.ptp(p[0])), 1), round(float(np.ptp(p[1])), 1)
        (2.0, 0.5)
    """
    z = np.asarray(z, np.float64)
    found = [np.zeros((m, z.shape[1])) for m in seasons]
    idx = np.arange(len(z))
    for _ in range(sweeps):
        trend = _moving_average(z - _seasonal(found, seasons, idx), max(seasons))
        for k, m in enumerate(seasons):
            rest = z - trend - _seasonal(found, seasons, idx) + found[k][idx % m]
            sums = np.zeros((m, z.shape[1]))
            np.add.at(sums, idx % m, rest)
            mean = sums / np.bincount(idx % m, minlength=m)[:, None]
            found[k] = mean - mean.mean(0)
    return found


def _seasonal(found: list, seasons: list, idx: np.ndarray) -> np.ndarray:
    """S(i) for the steps `idx`: (len(idx), T)."""
    return sum(p[idx % m] for p, m in zip(found, seasons))


class DecompositionBase:
    """Seasonal profiles fitted on the training part plus a linear AR on the deseasonalised series.

    Args:
        lookback: L lags of the AR. horizon: H. seasons: season lengths (`seasons_for`).

    Example:
        >>> i = np.arange(2000)
        >>> z = (np.sin(2 * np.pi * i / 48) + 0.3 * np.sin(2 * np.pi * i / 336))[:, None]
        >>> b = DecompositionBase(48, 4, [48, 336]).fit(z, np.arange(47, 1500), 1500)
        >>> float(np.abs(b(z, np.array([1800]))[0, :, 0] - z[1801:1805, 0]).max()) < 0.02
        True
    """

    def __init__(self, lookback: int, horizon: int, seasons: list, found=None, coef=None):
        self.lookback, self.horizon, self.seasons = lookback, horizon, [int(m) for m in seasons]
        self.found = None if found is None else [np.asarray(p, np.float64) for p in found]
        self.ar = LinearAR(lookback, horizon)
        self.ar.coef = None if coef is None else np.asarray(coef, np.float64)  # (T, L+1, H)

    def seasonal(self, idx: np.ndarray, n_targets: int) -> np.ndarray:
        """S(i) at the steps `idx` (any shape): (*idx.shape, T)."""
        flat = np.asarray(idx).reshape(-1)
        return _seasonal(self.found, self.seasons, flat).reshape(*np.shape(idx), n_targets)

    def fit(self, z: np.ndarray, origins: np.ndarray, n_fit: int) -> "DecompositionBase":
        """Profiles on z[:n_fit], then the AR on the windows at `origins` (targets before n_fit)."""
        z = np.asarray(z, np.float64)
        self.found = profiles(z[:n_fit], self.seasons)
        self.ar.fit(z - self.seasonal(np.arange(len(z)), z.shape[1]), origins)
        return self

    def __call__(self, z: np.ndarray, origins: np.ndarray, offset: int = 0) -> np.ndarray:
        """The base (B, H, T) at each origin; step i of z has the phase of step i + offset of the
        fitting series (new data that starts later has a positive offset)."""
        z = np.asarray(z, np.float64)
        origins = np.asarray(origins)
        d = z - self.seasonal(np.arange(len(z)) + offset, z.shape[1])
        ahead = origins[:, None] + np.arange(1, self.horizon + 1) + offset  # (B, H)
        return (self.ar.predict(d, origins) + self.seasonal(ahead, z.shape[1])).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": "decomposition", "lookback": self.lookback, "horizon": self.horizon,
                "seasons": self.seasons, "found": [p.tolist() for p in self.found],
                "coef": self.ar.coef.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "DecompositionBase":
        return cls(d["lookback"], d["horizon"], d["seasons"], d["found"], d["coef"])
