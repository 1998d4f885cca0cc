"""The forecasting network: an LSTM over the lookback and a linear head that emits every step,
target and quantile at once, trained with the pinball (quantile) loss.

Shapes: B windows, L lookback, H horizon, F features per step, T targets, Q quantiles, C known-future
(calendar) features, U hidden units.
"""
import numpy as np
import torch
from torch import nn

from ... import nn as lnn


class ForecastNet(nn.Module):
    """LSTM encoder + linear head: direct multi-step quantile forecasts.

    The input is one tensor per window: the L lookback rows, then H rows in which only the last C
    (known-future) columns are filled. The head sees the last hidden state and the known-future
    features of all H steps.

    Args:
        n_features: F columns per row. n_known: C, the trailing known-future columns.
        n_targets: T. lookback: L. horizon: H (1 for recursive forecasting). n_quantiles: Q.
        hidden_size: U LSTM units. num_layers: stacked LSTM layers. dropout: between layers.

    Example:
        >>> net = ForecastNet(3, 2, 1, lookback=8, horizon=4, n_quantiles=3)
        >>> tuple(net(torch.zeros(5, 12, 3)).shape)
        (5, 4, 1, 3)
    """

    def __init__(self, n_features, n_known, n_targets, lookback, horizon, n_quantiles,
                 hidden_size=32, num_layers=1, dropout=0.0):
        super().__init__()
        self.config = dict(n_features=n_features, n_known=n_known, n_targets=n_targets, lookback=lookback,
                           horizon=horizon, n_quantiles=n_quantiles, hidden_size=hidden_size,
                           num_layers=num_layers, dropout=dropout)
        self.lstm = lnn.LSTM(n_features, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden_size + horizon * n_known, horizon * n_targets * n_quantiles)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        out, _ = self.lstm(x[:, :c["lookback"]])  # (B, L, U)
        known = x[:, c["lookback"]:, x.shape[2] - c["n_known"]:].flatten(1)  # (B, H*C)
        y = self.head(torch.cat([out[:, -1], known], 1))  # (B, H*T*Q)
        return y.view(x.shape[0], c["horizon"], c["n_targets"], c["n_quantiles"])  # shape[0]: symbolic in an export


class Ensemble(nn.ModuleList):
    """Several ForecastNets trained from different seeds; the forecast is their mean.

    Example:
        >>> ens = Ensemble([ForecastNet(1, 0, 1, 4, 2, 3) for _ in range(2)])
        >>> tuple(ens(torch.zeros(3, 6, 1)).shape)
        (3, 2, 1, 3)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self]).mean(0)


class PinballLoss:
    """Mean pinball loss over quantiles: max(q*e, (q-1)*e) with e = y - y_q. For q = 0.5 it is half
    the absolute error, so the median output is the point forecast.

    Args:
        quantiles: Q levels in (0, 1).

    Example:
        >>> loss = PinballLoss((0.1, 0.5, 0.9))
        >>> float(loss(torch.zeros(1, 1, 1, 3), torch.ones(1, 1, 1)))
        0.5
    """
    y_pred_first = True  # compile calls it (y_pred, y_true), not in Keras' (y_true, y_pred)

    def __init__(self, quantiles):
        self.q = torch.tensor(quantiles, dtype=torch.float32)

    def __call__(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        e = y_true.unsqueeze(-1) - y_pred  # (B, H, T, Q)
        q = self.q.to(e.device)
        return torch.maximum(q * e, (q - 1) * e).mean()


def sample_quantiles(q: np.ndarray, levels, rng: np.random.Generator) -> np.ndarray:
    """Draw one value per row from a distribution known by its quantiles: u ~ U(0, 1), then the
    piecewise-linear quantile function through (level, value), extended linearly past the outer
    levels.

    Args:
        q: (N, T, Q) sorted quantile values; levels: the Q increasing levels; rng: a numpy Generator.

    Returns:
        (N, T) draws.

    Example:
        >>> q = np.array([[[0.0, 1.0, 2.0]]])
        >>> float(sample_quantiles(q, (0.1, 0.5, 0.9), np.random.default_rng(0))[0, 0]) <= 2.25
        True
    """
    levels = np.asarray(levels)
    u = rng.uniform(size=q.shape[:2])  # (N, T)
    k = np.clip(np.searchsorted(levels, u) - 1, 0, len(levels) - 2)  # segment of the quantile function
    lo, hi = np.take_along_axis(q, k[..., None], -1)[..., 0], np.take_along_axis(q, k[..., None] + 1, -1)[..., 0]
    return lo + (u - levels[k]) / (levels[k + 1] - levels[k]) * (hi - lo)
