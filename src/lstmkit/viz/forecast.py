"""Forecast plots: the history, the held-out test period with the backtest's forecasts, and the
forecast after the end of the data, each with its prediction interval."""

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402

from .figures import save_figure  # noqa: E402


def plot_forecast(history, backtest, future, path, *, title="", quantiles=(0.1, 0.5, 0.9)):
    """Draw one panel per target and write it atomically as an image.

    In the test period the forecasts come from non-overlapping backtest origins (one every H steps),
    so each test step is shown once, as it was forecast at most H steps ahead.

    Args:
        history: the frame the model saw (time index, target columns first).
        backtest: a `lstmkit.tasks.forecast.Backtest`.
        future: the frame from `Forecaster.predict()` (`<target>_p<q>` columns), or None.
        path: the image file (.png, .svg, ...).
        title: figure title. quantiles: the levels the forecaster used (outer two form the band).

    Returns:
        The path written.

    Example:
        >>> plot_forecast(frame, forecaster.backtest(), forecaster.predict(), "forecast.png")  # doctest: +SKIP
    """
    targets = list(history.columns[: backtest.actual.shape[2]])
    fig, axes = plt.subplots(len(targets), 1, figsize=(10, 3.6 * len(targets)), squeeze=False)
    horizon = backtest.actual.shape[1]
    for i, (ax, target) in enumerate(zip(axes[:, 0], targets)):
        ax.plot(history.index, history[target], color="0.25", lw=1, label="history")
        start = history.index[backtest.positions[0] + 1]
        ax.axvspan(start, history.index[-1], color="0.9", label="test period")
        for k, b in enumerate(range(0, len(backtest.positions), horizon)):
            steps = history.index[backtest.positions[b] + 1: backtest.positions[b] + 1 + horizon]
            q = backtest.quantiles[b, : len(steps), i]  # (H, Q)
            ax.fill_between(steps, q[:, 0], q[:, -1], color="tab:blue", alpha=0.25, lw=0,
                            label=None if k else f"backtest {_band(quantiles)}")
            ax.plot(steps, q[:, len(quantiles) // 2], color="tab:blue", lw=1.5,
                    label=None if k else "backtest forecast (median)")
        if future is not None:
            _future(ax, future, target, quantiles)
        ax.set_ylabel(target)
        ax.legend(loc="upper left", fontsize=8)
    axes[0, 0].set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def _future(ax, future, target, quantiles):
    lo, hi = f"{target}_p{round(quantiles[0] * 100)}", f"{target}_p{round(quantiles[-1] * 100)}"
    ax.fill_between(future.index, future[lo], future[hi], color="tab:orange", alpha=0.3, lw=0,
                    label=f"forecast {_band(quantiles)}")
    ax.plot(future.index, future[f"{target}_p50"], color="tab:orange", lw=1.5, label="forecast (median)")


def _band(quantiles):
    return f"{round(quantiles[0] * 100)}-{round(quantiles[-1] * 100)}% interval"



