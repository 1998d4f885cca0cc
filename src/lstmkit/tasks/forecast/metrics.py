"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE and MASE, computed on arrays of windows.

Shapes: B windows, H steps, T targets. Every metric is computed per target over all windows and
steps, then averaged over targets (MAE and RMSE are in the targets' units; with several targets of
different units prefer MASE and sMAPE).
"""
import numpy as np

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def mase_scale(train: np.ndarray, season: int) -> np.ndarray:
    """The in-sample MAE of the seasonal naive forecast (lag m) on the training part: MASE's unit.

    Args:
        train: (N, T) training values; season: m (1 for the naive lag).

    Returns:
        (T,) scale; a flat series gives 1 so MASE stays finite.

    Example:
        >>> mase_scale(np.array([[1.0], [2.0], [4.0]]), 1).tolist()
        [1.5]
    """
    m = season if len(train) > season else 1
    scale = np.abs(train[m:] - train[:-m]).mean(0)
    return np.where(scale > 0, scale, 1.0)


def forecast_metrics(y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray) -> dict:
    """All metrics for one model on the same windows.

    Args:
        y_true, y_pred: (B, H, T) actual values and point forecasts, original units.
        scale: (T,) from `mase_scale`.

    Returns:
        {"mae", "rmse", "mape", "smape", "mase"} as floats; MAPE and sMAPE in percent. MAPE is NaN
        when an actual value is 0 (it is undefined there).

    Example:
        >>> y = np.ones((1, 2, 1)); forecast_metrics(y, 2 * y, np.ones(1))["mae"]
        1.0
    """
    err = (y_pred - y_true).reshape(-1, y_true.shape[-1])  # (B*H, T)
    actual = y_true.reshape(err.shape)
    denom = np.abs(actual) + np.abs(y_pred.reshape(err.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        mape = np.where((actual == 0).any(0), np.nan, (np.abs(err) / np.abs(actual)).mean(0) * 100)
        smape = (np.where(denom > 0, 2 * np.abs(err) / denom, 0.0)).mean(0) * 100
    per_target = {"mae": np.abs(err).mean(0), "rmse": np.sqrt((err ** 2).mean(0)), "mape": mape,
                  "smape": smape, "mase": np.abs(err).mean(0) / scale}
    return {k: float(np.mean(v)) for k, v in per_target.items()}
