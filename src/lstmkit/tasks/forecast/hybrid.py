"""What the network's forecast is relative to: the base, and how `base="auto"` picks it.

The network learns the part of the future its base leaves: y[t+h] - b_h(t). The bases:

- "last":     b_h = z[t]                    (the level at the origin)
- "seasonal": b_h = z[t + h - m*ceil(h/m)]   (the value one season of m steps earlier)
- "linear":   b_h = a_h + sum_j c_hj z[t-j]  (a direct linear autoregression on the L lookback
  values, one least-squares fit per step h on the training windows only)

"linear" is the hybrid idea of ES-RNN (Smyl 2020): a classical model carries what it captures
well — on smooth or strongly autocorrelated series, almost everything — and the LSTM learns its
errors, quantiles included. `base="auto"` fits every candidate on the training windows and keeps the
one with the lowest mean absolute error on the validation windows (never on the test part), so a
series where yesterday's profile forecasts best keeps "seasonal" and one where the autoregression
does gets "linear".

Shapes: N steps, T targets, B windows (by origin), H horizon, L lookback; z is scaled.
"""
import numpy as np

from . import baselines


class LinearBase:
    """The "linear" base: `baselines.LinearAR` fitted in scaled units on the training windows.

    Args:
        lookback: L lags. horizon: H.

    Example:
        >>> z = np.sin(np.arange(200) / 5.0)[:, None]
        >>> b = LinearBase(10, 3).fit(z, np.arange(9, 150))
        >>> float(np.abs(b(z, np.array([160]))[0, :, 0] - z[161:164, 0]).max()) < 1e-6
        True
    """

    def __init__(self, lookback: int, horizon: int, coef=None):
        self.ar = baselines.LinearAR(lookback, horizon)
        self.ar.coef = None if coef is None else np.asarray(coef, np.float64)  # (T, L+1, H)

    def fit(self, z: np.ndarray, origins: np.ndarray) -> "LinearBase":
        """Least squares on the windows at `origins`, whose targets must lie in the training part."""
        self.ar.fit(z.astype(np.float64), origins)
        return self

    def __call__(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The base (B, H, T) at each origin."""
        return self.ar.predict(z.astype(np.float64), origins).astype(np.float32)

    def to_dict(self) -> dict:
        return {"lookback": self.ar.lookback, "horizon": self.ar.horizon, "coef": self.ar.coef.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "LinearBase":
        return cls(d["lookback"], d["horizon"], d["coef"])


def choose(candidates: dict, z: np.ndarray, origins: np.ndarray, horizon: int) -> str:
    """The candidate base with the lowest mean absolute error on the windows at `origins`.

    Args:
        candidates: name -> callable origins -> (B, H, T) base values; z: (N, T) scaled series;
        origins: (B,) validation origins; horizon: H.

    Returns:
        The name; ties go to the first (keep "seasonal" or "last" first: they need no fit).

    Example:
        >>> z = np.arange(30.0)[:, None]
        >>> choose({"last": lambda o: z[o][:, None], "linear": lambda o: z[o[:, None] + [1, 2]]},
        ...        z, np.array([20, 25]), 2)
        'linear'
    """
    ahead = z[origins[:, None] + np.arange(1, horizon + 1)]  # (B, H, T)
    errors = {name: float(np.abs(ahead - base(origins)).mean()) for name, base in candidates.items()}
    return min(errors, key=errors.get)
