"""What the network's forecast is relative to: the base, and how `base="auto"` picks it.

The network learns the part of the future its base leaves: y[t+h] - b_h(t). The bases:

- "last":     b_h = z[t]                    (the level at the origin)
- "seasonal": b_h = z[t + h - m*ceil(h/m)]   (the value one season of m steps earlier)
- "linear":   b_h = a_h + sum_j c_hj z[t-j]  (a direct linear autoregression on the L lookback
  values, one least-squares fit per step h on the training windows only)
- "decomposition": b_h = S(t+h) + the linear AR on z - S, S the sum of one profile per season (the
  day and the week for intra-day data) fitted before the validation windows (decompose.py)

"linear" is the hybrid idea of ES-RNN (Smyl 2020): a classical model carries what it captures
well — on smooth or strongly autocorrelated series, almost everything — and the LSTM learns its
errors, quantiles included. `base="auto"` fits every candidate on the training windows and keeps the
one with the lowest mean absolute error on the validation windows (never on the test part), so a
series where yesterday's profile forecasts best keeps "seasonal", a random walk (a price) "last",
one where the autoregression does gets "linear", and a multi-seasonal one "decomposition". The
share of the network's correction kept (`choose_blend`) is chosen on the same windows.

Shapes: N steps, T targets, B windows (by origin), H horizon, L lookback; z is scaled.
"""
import numpy as np

from . import baselines
from .decompose import DecompositionBase, seasons_for

FITTED = ("linear", "decomposition")  # bases fitted on the training windows (direct strategy only)
BLENDS = (1.0, 0.75, 0.5, 0.25, 0.0)  # shares of the network's median correction tried on validation


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

    def __call__(self, z: np.ndarray, origins: np.ndarray, offset: int = 0) -> np.ndarray:
        """The base (B, H, T) at each origin (`offset`, the phase of new data, is not used)."""
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


def fit_bases(z: np.ndarray, train: np.ndarray, val: np.ndarray, lookback: int, horizon: int,
              season: int) -> dict:
    """The fitted bases: "linear" on the training windows, and "decomposition" (profiles on the steps
    before the first validation target, the AR on the training windows) where the season allows.

    Args:
        z: (N, T) scaled series; train, val: training and validation origins; lookback: L;
        horizon: H; season: the data's season length.

    Returns:
        {name: fitted base, callable (z, origins) -> (B, H, T)}.
    """
    fitted = {"linear": LinearBase(lookback, horizon).fit(z, train)}
    seasons = seasons_for(season, int(val[0]) + 1)
    if seasons:
        fitted["decomposition"] = DecompositionBase(lookback, horizon, seasons).fit(z, train, int(val[0]) + 1)
    return fitted


def candidates(z: np.ndarray, horizon: int, season: int, lookback: int, fitted: dict) -> dict:
    """Every base `base="auto"` chooses from, as callables origins -> (B, H, T): "last", "seasonal"
    (when 1 < season <= lookback), then the fitted ones. The simple ones come first: ties keep them.

    Example:
        >>> z = np.arange(40.0)[:, None]
        >>> sorted(candidates(z, 2, 4, 8, {}))
        ['last', 'seasonal']
    """
    found = {"last": lambda o: z[o[:, None] + np.zeros(horizon, int)]}
    if 1 < season <= lookback:
        h = np.arange(1, horizon + 1)
        back = h - season * np.ceil(h / season).astype(int)
        found["seasonal"] = lambda o: z[o[:, None] + back]
    found.update({name: (lambda o, b=base: b(z, o)) for name, base in fitted.items()})
    return found


def choose_blend(bases: np.ndarray, correction: np.ndarray, ahead: np.ndarray) -> float:
    """The share a in `BLENDS` of the network's median correction whose forecast base + a * correction
    has the lowest mean absolute error on the validation windows; ties keep the larger share.

    Args:
        bases, correction, ahead: (B, H, T) the base, the network's median relative to it, the actual.

    Example:
        >>> b, d = np.zeros((4, 2, 1)), np.ones((4, 2, 1))
        >>> choose_blend(b, d, 0.5 * d), choose_blend(b, d, d), choose_blend(b, d, -d)
        (0.5, 1.0, 0.0)
    """
    errors = {a: float(np.abs(bases + a * correction - ahead).mean()) for a in BLENDS}
    return min(errors, key=errors.get)


def restore(prep: dict):
    """The fitted base a saved model's preprocessing holds ("linear" or "decomposition"), else None."""
    if prep.get("base") == "decomposition":
        return DecompositionBase.from_dict(prep["decomposition"])
    return LinearBase.from_dict(prep["linear"]) if prep.get("linear") else None
