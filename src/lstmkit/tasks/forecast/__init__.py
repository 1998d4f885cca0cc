"""Time-series forecasting: `train(data, Config(...))` -> Forecaster; `evaluate`, `backtest`."""
from .config import Backtest, Config
from .pipeline import Forecaster, backtest, evaluate, train

__all__ = ["Backtest", "Config", "Forecaster", "backtest", "evaluate", "train"]
