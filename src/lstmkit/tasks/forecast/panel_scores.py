"""Scores of a panel backtest: every model's metrics per series, and over the series the mean and
median MASE, the mean sMAPE and scaled CRPS, and the share of series on which the LSTM's MASE is
lower than each other model's."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PanelBacktest:
    """The backtest of a panel.

    Attributes:
        series: id -> `Backtest` (every series for an in-memory panel; the first few for a streamed
            one). frames: id -> that series' frame (for plots). per_series: id -> {model: {metric:
            value}} for every series. metrics: model -> the aggregate scores of `aggregate`.
        notes: one line per peer left out.
    """
    series: dict
    frames: dict
    per_series: dict
    metrics: dict
    notes: list = field(default_factory=list)


def aggregate(per_series: dict) -> dict:
    """Scores over series.

    Args:
        per_series: id -> {model: {"mase", "smape", "crps_scaled", ...}}.

    Returns:
        model -> {"mase" (mean over series), "mase_median", "smape", "crps_scaled" (means), "series"
        (how many had this model), and for models other than "lstm" "lstm_better" (the share of those
        series on which the LSTM's MASE is lower)}.

    Example:
        >>> s = {"a": {"lstm": {"mase": 1.0, "smape": 5.0, "crps_scaled": 0.5},
        ...            "naive": {"mase": 2.0, "smape": 9.0, "crps_scaled": 1.0}},
        ...      "b": {"lstm": {"mase": 3.0, "smape": 5.0, "crps_scaled": 0.5},
        ...            "naive": {"mase": 2.0, "smape": 9.0, "crps_scaled": 1.0}}}
        >>> aggregate(s)["naive"]["lstm_better"], aggregate(s)["lstm"]["mase"]
        (0.5, 2.0)
    """
    models = list(dict.fromkeys(m for scores in per_series.values() for m in scores))
    out = {}
    for model in models:
        rows = [s for s in per_series.values() if model in s]
        mase = np.array([s[model]["mase"] for s in rows])
        entry = {"mase": float(mase.mean()), "mase_median": float(np.median(mase)),
                 "smape": float(np.mean([s[model]["smape"] for s in rows])),
                 "crps_scaled": float(np.mean([s[model].get("crps_scaled", np.nan) for s in rows])),
                 "series": len(rows)}
        if model != "lstm":
            both = [s for s in rows if "lstm" in s]
            entry["lstm_better"] = float(np.mean([s["lstm"]["mase"] < s[model]["mase"] for s in both])) \
                if both else float("nan")
        out[model] = entry
    return out
