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
errors, quantiles included. `base="auto"` scores every candidate, and the equal-weight average of
every pair of them ("combination": forecast combination, the robust lesson of M4), on several
validation folds (`folds`: the validation windows and up to three stretches of the same length
before them, each scored by bases refitted on the windows before it; never the test part) and keeps
the lowest mean absolute error over the folds, a pair only when it beats every single base by more
than `TIE`. So a series where yesterday's profile forecasts best keeps "seasonal", a random walk (a
price) "last", one where the autoregression does gets "linear", a multi-seasonal one
"decomposition", and one whose cycle no single base follows in every fold (sunspots) the average of
two. The share of the network's correction kept (`choose_blend`) is chosen on the validation windows.

Shapes: N steps, T targets, B windows (by origin), H horizon, L lookback; z is scaled.
"""
import itertools

import numpy as np

from . import baselines
from .decompose import DecompositionBase, seasons_for

FITTED = ("linear", "decomposition")  # bases fitted on the training windows (direct strategy only)
RELATIVE = (*FITTED, "combination")  # bases held as objects: the lookback is then relative to its last value
BLENDS = (1.0, 0.75, 0.5, 0.25, 0.0)  # shares of the network's median correction tried on validation
FOLDS = 4  # validation folds at most: the validation windows and stretches of their length before them
PER_PARAMETER = 4  # an earlier fold is scored only when its training windows are >= 4 x the AR's parameters
TIE = 0.01  # a combination must beat every single base by more than 1% of its error on the folds


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


def folds(train: np.ndarray, val: np.ndarray, lookback: int, horizon: int) -> list:
    """The validation folds, latest first: (training origins, validation origins) pairs, the first
    the pipeline's own; each earlier one a stretch of len(val) origins ending before the next one
    starts, trained on the origins whose targets end before it, kept while those number at least
    `PER_PARAMETER` x (lookback + 1) (the linear AR's parameters), at most `FOLDS` in all.

    Example:
        >>> [(len(t), int(v[0])) for t, v in folds(np.arange(9, 120), np.arange(125, 145), 4, 5)]
        [(111, 125), (92, 105), (72, 85), (52, 65)]
    """
    found, k = [(train, val)], len(val)
    for j in range(1, FOLDS):
        fold = val - j * k
        fold_train = train[train <= fold[0] - horizon]
        if len(fold_train) < PER_PARAMETER * (lookback + 1):
            break
        found.append((fold_train, fold))
    return found


def fold_errors(z: np.ndarray, train: np.ndarray, val: np.ndarray, lookback: int, horizon: int,
                season: int, fitted: dict = None) -> dict:
    """Mean absolute error of every candidate base and every equal-weight pair of them, averaged
    over `folds` (each fold's fitted bases refitted on its own training windows; `fitted`: those of
    the first fold, (train, val), when the caller has them already, as `fit_bases` gives).

    Returns:
        {tuple of base names: error}, singles first in `candidates` order, then the pairs.
    """
    errors = {}
    for k, (fold_train, fold) in enumerate(folds(train, val, lookback, horizon)):
        if k or fitted is None:
            fitted = fit_bases(z, fold_train, fold, lookback, horizon, season)
        found = candidates(z, horizon, season, lookback, fitted)
        ahead = z[fold[:, None] + np.arange(1, horizon + 1)]  # (B, H, T)
        values = {name: base(fold) for name, base in found.items()}
        names = [(n,) for n in values] + list(itertools.combinations(values, 2))
        for key in names:
            errors.setdefault(key, []).append(float(np.abs(ahead - np.mean([values[n] for n in key], 0)).mean()))
    n_folds = max(len(v) for v in errors.values())
    return {key: float(np.mean(v)) for key, v in errors.items() if len(v) == n_folds}


def choose(errors: dict) -> tuple:
    """The base names to average: the single base with the lowest error (ties go to the first:
    keep "seasonal" or "last" first, they need no fit), or the pair with the lowest error when it is
    below (1 - TIE) x the best single one's.

    Args:
        errors: {tuple of names: error}, as `fold_errors` gives.

    Example:
        >>> choose({("last",): 1.0, ("linear",): 0.5, ("last", "linear"): 0.496})
        ('linear',)
        >>> choose({("last",): 1.0, ("linear",): 0.5, ("last", "linear"): 0.4})
        ('last', 'linear')
    """
    singles = {k: e for k, e in errors.items() if len(k) == 1}
    best = min(singles, key=singles.get)
    pairs = {k: e for k, e in errors.items() if len(k) > 1}
    pair = min(pairs, key=pairs.get) if pairs else None
    return pair if pair is not None and pairs[pair] < (1 - TIE) * singles[best] else best


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
    found = {name: (lambda o, b=base: b(z, o)) for name, base in simple_bases(horizon, season, lookback).items()}
    found.update({name: (lambda o, b=base: b(z, o)) for name, base in fitted.items()})
    return found


def simple_bases(horizon: int, season: int, lookback: int) -> dict:
    """The bases that need no fit, as callables (z, origins, offset=0) -> (B, H, T): "last", and
    "seasonal" when 1 < season <= lookback."""
    h = np.arange(1, horizon + 1)
    found = {"last": lambda z, o, offset=0: z[np.asarray(o)[:, None] + np.zeros(horizon, int)]}
    if 1 < season <= lookback:
        back = h - season * np.ceil(h / season).astype(int)
        found["seasonal"] = lambda z, o, offset=0: z[np.asarray(o)[:, None] + back]
    return found


class CombinedBase:
    """The "combination" base: the equal-weight average of two bases (`choose` picked the pair).

    Args:
        names: the bases averaged; parts: {name: fitted base} for those among `FITTED`; horizon: H;
        season, lookback: for the simple ones.

    Example:
        >>> z = np.arange(40.0)[:, None]
        >>> b = CombinedBase(["last", "seasonal"], {}, 2, 4, 8)
        >>> b(z, np.array([20]))[0, :, 0].tolist()
        [18.5, 19.0]
    """

    def __init__(self, names, parts: dict, horizon: int, season: int, lookback: int):
        self.names, self.parts = list(names), dict(parts)
        simple = simple_bases(horizon, season, lookback)
        self._bases = [self.parts[n] if n in self.parts else simple[n] for n in self.names]

    def __call__(self, z: np.ndarray, origins: np.ndarray, offset: int = 0) -> np.ndarray:
        """The base (B, H, T): the mean of its parts' (`offset`: the phase, for a decomposition)."""
        return np.mean([b(z, origins, offset) for b in self._bases], 0).astype(np.float32)


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
    """The fitted base a saved model's preprocessing holds ("linear", "decomposition" or a
    "combination" of two bases), else None."""
    parts = {}
    if prep.get("decomposition"):
        parts["decomposition"] = DecompositionBase.from_dict(prep["decomposition"])
    if prep.get("linear"):
        parts["linear"] = LinearBase.from_dict(prep["linear"])
    if prep.get("base") == "combination":
        c = prep["combination"]
        return CombinedBase(c["names"], parts, c["horizon"], prep["season"], c["lookback"])
    return parts.get(prep.get("base"))
