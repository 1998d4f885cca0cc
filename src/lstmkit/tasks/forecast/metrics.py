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


def quantile_pairs(levels) -> list:
    """The symmetric pairs (q, 1 - q), q < 0.5, both among `levels`, as index pairs.

    Example:
        >>> quantile_pairs((0.05, 0.1, 0.5, 0.9))
        [(1, 3)]
    """
    levels = [round(float(q), 6) for q in levels]
    return [(i, levels.index(round(1 - q, 6))) for i, q in enumerate(levels)
            if q < 0.5 and round(1 - q, 6) in levels]


def probabilistic_metrics(y_true: np.ndarray, q_pred: np.ndarray, levels, scale: np.ndarray) -> dict:
    """Quantile scores for one model on the same windows as `forecast_metrics`.

    With e = y - q̂_τ, the pinball loss of level τ is ρ_τ(e) = max(τ e, (τ - 1) e). CRPS is
    approximated by the quantile decomposition CRPS = 2 ∫ ρ_τ dτ over (0, 1), evaluated at the
    Q given levels as CRPS ≈ (2 / Q) Σ_τ ρ_τ: the mean of twice the pinball losses. With few levels
    (0.1, 0.5, 0.9) this is a coarse, but consistent, approximation; compare it across models only.

    Args:
        y_true: (B, H, T) actual values; q_pred: (B, H, T, Q) quantile forecasts, original units.
        levels: the Q quantile levels, increasing. scale: (T,) from `mase_scale`.

    Returns:
        {"pinball": mean over levels (units), "crps" (units), "crps_scaled" (CRPS / scale, unit-free
        like MASE), and for each symmetric pair (q, 1 - q): "coverage_<q>_<1-q>" (the share of actual
        values inside [q̂_q, q̂_{1-q}]) and "width_<q>_<1-q>" (its mean width, units)}; levels in percent
        in the names, e.g. "coverage_10_90". Every score is averaged over targets.

    Example:
        >>> y = np.zeros((1, 1, 1)); q = np.array([-1.0, 0.0, 2.0]).reshape(1, 1, 1, 3)
        >>> round(probabilistic_metrics(y, q, (0.1, 0.5, 0.9), np.ones(1))["pinball"], 6)
        0.1
    """
    levels = np.asarray(levels, dtype=float)
    err = y_true[..., None] - q_pred  # (B, H, T, Q)
    rho = np.maximum(levels * err, (levels - 1) * err).reshape(-1, y_true.shape[-1], len(levels))  # (B*H, T, Q)
    per_target = rho.mean(0)  # (T, Q)
    crps = 2 * per_target.mean(1)  # (T,)
    out = {"pinball": float(per_target.mean()), "crps": float(crps.mean()), "crps_scaled": float((crps / scale).mean())}
    for lo, hi in quantile_pairs(levels):
        name = f"{round(levels[lo] * 100)}_{round(levels[hi] * 100)}"
        inside = (y_true >= q_pred[..., lo]) & (y_true <= q_pred[..., hi])
        out[f"coverage_{name}"] = float(inside.mean())
        out[f"width_{name}"] = float((q_pred[..., hi] - q_pred[..., lo]).mean())
    return out


def residual_quantiles(actual: np.ndarray, point: np.ndarray, levels) -> np.ndarray:
    """Empirical quantiles of a model's errors, per step and target: the offsets that turn its point
    forecasts into quantile forecasts (point + offset), as for the classical baselines.

    Args:
        actual, point: (B, H, T) on windows whose targets lie in the training part.
        levels: the Q quantile levels.

    Returns:
        (H, T, Q) offsets.

    Example:
        >>> a = np.arange(5.0).reshape(5, 1, 1); residual_quantiles(a, np.zeros_like(a), (0.5,)).ravel().tolist()
        [2.0]
    """
    return np.moveaxis(np.quantile(actual - point, list(levels), axis=0), 0, -1)
