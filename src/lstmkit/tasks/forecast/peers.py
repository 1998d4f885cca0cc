"""Classical peers from statsforecast (the optional `peers` extra): AutoARIMA, AutoETS and MSTL,
fitted once on the training part and applied at every origin through their `forward`, which runs the
fitted model on the history up to that origin without refitting (as the LSTM is not refitted).

Shapes: N steps, T targets, B windows (given by their origins), H horizon. Original units.
"""
import importlib.util

import numpy as np

from .decompose import seasons_for as _seasons  # MSTL's seasons: the decomposition base's

PEERS = ("auto_arima", "auto_ets", "mstl")


def available() -> bool:
    """True when statsforecast is installed (`pip install 'lstmkit[peers]'`)."""
    return importlib.util.find_spec("statsforecast") is not None


def left_out(name: str, exc: Exception) -> str:
    """The one-line note for a peer that failed on this series, with statsforecast's reason."""
    return f"peers: {name} left out: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"


def _make(name: str, season: int, n_fit: int):
    from statsforecast.models import MSTL, AutoARIMA, AutoETS  # optional, imported only when used
    if name == "auto_arima":
        return AutoARIMA(season_length=season)
    if name == "auto_ets":
        return AutoETS(season_length=season if season <= 24 else 1)  # ETS models seasons up to 24 only
    seasons = _seasons(season, n_fit)
    return MSTL(season_length=seasons) if seasons else None


class _Peer:
    """One fitted model per target; `__call__(origins)` gives (B, H, T) point forecasts."""

    def __init__(self, name, values, n_fit, horizon, season):
        self.values, self.horizon = values, horizon
        self.models = [_make(name, season, n_fit).fit(values[:n_fit, t].astype(float))
                       for t in range(values.shape[1])]

    def __call__(self, origins):
        return np.stack([np.stack([m.forward(self.values[:o + 1, t].astype(float), h=self.horizon)["mean"]
                                   for o in origins]) for t, m in enumerate(self.models)], 2)


def peer_models(values: np.ndarray, n_fit: int, horizon: int, season: int, names=PEERS) -> tuple:
    """The statsforecast peers fitted on `values[:n_fit]`.

    Args:
        values: (N, T) the whole series; n_fit: steps in the training part; horizon: H;
        season: the season length (MSTL adds the week for hourly and half-hourly data).
        names: the peers to fit (a subset of PEERS).

    Returns:
        ({name: callable origins -> (B, H, T)}, notes): notes are one line per peer left out (not
        installed, no season for MSTL, or a fit that failed, with statsforecast's reason).

    Example:
        >>> models, notes = peer_models(np.arange(60.0)[:, None] % 12, 48, 6, 12)   # doctest: +SKIP
        >>> models["mstl"](np.array([47])).shape                                     # doctest: +SKIP
        (1, 6, 1)
    """
    if not available():
        return {}, ["peers: statsforecast is not installed (pip install 'lstmkit[peers]'); "
                    "AutoARIMA, AutoETS and MSTL left out"]
    models, notes = {}, []
    for name in names:
        if name == "mstl" and not _seasons(season, n_fit):
            notes.append(f"peers: mstl left out: season length {season} gives no seasonal cycle to decompose")
            continue
        try:
            models[name] = _Peer(name, values, n_fit, horizon, season)
        except Exception as exc:  # a peer that cannot fit this series is reported, not fatal
            notes.append(left_out(name, exc))
    return models, notes
