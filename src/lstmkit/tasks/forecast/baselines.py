"""Baselines every forecast is compared with, on exactly the same windows: naive (last value),
seasonal naive (the value one season earlier) and a linear autoregression fitted by least squares
on the same lookback.

Shapes: N steps, T targets, B windows (given by their origins, the index of the last observed
step), H horizon, L lookback. Values are in original units.
"""
import numpy as np


def naive(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed value. Returns (B, H, T).

    Example:
        >>> naive(np.arange(5.0)[:, None], np.array([2]), 2)[..., 0].tolist()
        [[2.0, 2.0]]
    """
    return np.repeat(values[origins][:, None], horizon, 1)


def seasonal_naive(values: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season: step h gets the value at origin + h - m*ceil(h/m).

    Returns (B, H, T); with season 1 it equals `naive`.

    Example:
        >>> seasonal_naive(np.arange(6.0)[:, None], np.array([3]), 3, 2)[..., 0].tolist()
        [[2.0, 3.0, 2.0]]
    """
    h = np.arange(1, horizon + 1)
    lag = h - season * np.ceil(h / season).astype(int)  # (H,) <= 0
    return values[np.asarray(origins)[:, None] + lag]


class LinearAR:
    """Direct multi-step linear autoregression: y[t+h] = a_h + sum_j b_hj y[t-j], one least-squares
    fit per target over the training windows.

    Args:
        lookback: L lags (the same lookback the LSTM sees).
        horizon: H.

    Example:
        >>> y = np.arange(20.0)[:, None]
        >>> ar = LinearAR(3, 2).fit(y, np.arange(2, 15))
        >>> np.round(ar.predict(y, np.array([17]))[..., 0], 6).tolist()
        [[18.0, 19.0]]
    """

    def __init__(self, lookback: int, horizon: int):
        self.lookback, self.horizon = lookback, horizon
        self.coef = None  # (T, L+1, H)

    def _lags(self, values, origins, t):
        past = np.asarray(origins)[:, None] + np.arange(-self.lookback + 1, 1)  # (B, L)
        return np.concatenate([values[past, t], np.ones((len(past), 1))], 1)  # (B, L+1)

    def fit(self, values: np.ndarray, origins: np.ndarray) -> "LinearAR":
        """Fit on the windows at `origins` (their targets must lie in the training part)."""
        ahead = np.asarray(origins)[:, None] + np.arange(1, self.horizon + 1)  # (B, H)
        self.coef = np.stack([np.linalg.lstsq(self._lags(values, origins, t), values[ahead, t], rcond=None)[0]
                              for t in range(values.shape[1])])
        return self

    def predict(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecast H steps after each origin. Returns (B, H, T)."""
        return np.stack([self._lags(values, origins, t) @ self.coef[t] for t in range(values.shape[1])], 2)


def classical(values: np.ndarray, n_fit: int, lookback: int, horizon: int, season: int) -> dict:
    """The three baselines as callables origins -> (B, H, T), the AR fitted on `values[:n_fit]`.

    Example:
        >>> y = np.arange(40.0)[:, None]
        >>> classical(y, 30, 4, 2, 1)["naive"](np.array([5]))[..., 0].tolist()
        [[5.0, 5.0]]
    """
    ar = LinearAR(lookback, horizon).fit(values[:n_fit], np.arange(lookback - 1, n_fit - horizon))
    return {"naive": lambda o: naive(values, o, horizon),
            "seasonal_naive": lambda o: seasonal_naive(values, o, horizon, season),
            "linear_ar": lambda o: ar.predict(values, o)}
