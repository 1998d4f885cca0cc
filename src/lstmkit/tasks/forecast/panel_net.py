"""The global forecasting network of a panel: `ForecastNet` fed, at every step, the series' static
features too (learned embeddings of its categorical static covariates and, optionally, of its id,
and its scaled numeric static covariates), and the loop that trains it on batches streamed from
all series.

Shapes: B windows, L lookback, H horizon, F features per step, Q quantiles, S categorical static
columns (the id first when embedded), N numeric static columns, E = sum of embedding sizes + N.
"""
import numpy as np
import torch
from torch import nn

from ...models import EarlyStopping, Model
from ...models.optimizers import Adam
from .net import ForecastNet, PinballLoss


class PanelNet(nn.Module):
    """ForecastNet over [window features, static features broadcast to every step].

    The static features join the known-future columns (they are known at every step), so the head
    sees them next to the calendar.

    Args:
        n_features: F. n_known: the trailing known-future columns among them. lookback: L.
        horizon: H. n_quantiles: Q. cardinalities: S vocabulary sizes. n_numeric: N.
        hidden_size, num_layers, dropout: as ForecastNet. emb_dims: S embedding sizes (default
            min(8, (cardinality + 1) // 2) each).

    Example:
        >>> net = PanelNet(3, 2, lookback=8, horizon=4, n_quantiles=3, cardinalities=[5], n_numeric=1)
        >>> tuple(net(torch.zeros(2, 12, 3), torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1)).shape)
        (2, 4, 1, 3)
    """

    def __init__(self, n_features, n_known, lookback, horizon, n_quantiles, cardinalities=(), n_numeric=0,
                 hidden_size=32, num_layers=1, dropout=0.0, emb_dims=None):
        super().__init__()
        cardinalities = [int(k) for k in cardinalities]
        emb_dims = [int(d) for d in emb_dims] if emb_dims else [min(8, (k + 1) // 2) for k in cardinalities]
        self.config = dict(n_features=n_features, n_known=n_known, lookback=lookback, horizon=horizon,
                           n_quantiles=n_quantiles, cardinalities=cardinalities, n_numeric=n_numeric,
                           hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, emb_dims=emb_dims)
        self.embeddings = nn.ModuleList(nn.Embedding(k, d) for k, d in zip(cardinalities, emb_dims))
        extra = sum(emb_dims) + n_numeric
        self.net = ForecastNet(n_features + extra, n_known + extra, 1, lookback, horizon, n_quantiles,
                               hidden_size, num_layers, dropout)

    def forward(self, x: torch.Tensor, codes: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
        static = torch.cat([emb(codes[:, j]) for j, emb in enumerate(self.embeddings)] + [numeric], 1)  # (B, E)
        if static.shape[1]:
            x = torch.cat([x, static[:, None].expand(-1, x.shape[1], -1)], 2)  # (B, L+H, F+E)
        return self.net(x)  # (B, H, 1, Q)


class PanelEnsemble(nn.ModuleList):
    """Several PanelNets from different seeds; the forecast is their mean."""

    def forward(self, x, codes, numeric):
        return torch.stack([m(x, codes, numeric) for m in self]).mean(0)


def shuffled_batches(chunks, batch_size, buffer, rng):
    """Batches from a stream of window chunks, shuffled within a buffer of about `buffer` windows:
    memory holds the buffer, not the epoch. A buffer at least as large as the epoch shuffles fully.

    Args:
        chunks: an iterable of (x (b, L+H, F), y (b, H, 1), codes (b, S), numeric (b, N)) tuples.
        batch_size: windows per batch. buffer: windows held before shuffling. rng: numpy Generator.

    Yields:
        The same four arrays, batch_size windows each (the last batch may be smaller).

    Example:
        >>> chunk = (np.zeros((5, 2, 1)), np.zeros((5, 1, 1)), np.zeros((5, 0)), np.zeros((5, 0)))
        >>> [len(b[0]) for b in shuffled_batches([chunk, chunk], 4, 100, np.random.default_rng(0))]
        [4, 4, 2]
    """
    held, count = [], 0
    for chunk in chunks:
        held.append(chunk)
        count += len(chunk[0])
        if count >= buffer:
            parts = [np.concatenate(a) for a in zip(*held)]
            order = rng.permutation(count)
            full = count - count % batch_size
            for start in range(0, full, batch_size):
                yield tuple(p[order[start:start + batch_size]] for p in parts)
            held = [tuple(p[order[full:]] for p in parts)] if full < count else []
            count -= full
    if count:
        parts = [np.concatenate(a) for a in zip(*held)]
        order = rng.permutation(count)
        for start in range(0, count, batch_size):
            yield tuple(p[order[start:start + batch_size]] for p in parts)


def _tensors(batch):
    x, y, codes, numeric = batch
    return (torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.ascontiguousarray(y, np.float32)),
            torch.from_numpy(np.ascontiguousarray(codes, np.int64)), torch.from_numpy(np.ascontiguousarray(numeric, np.float32)))


def fit_member(net, epoch_batches, val, *, quantiles, learning_rate, epochs, patience, callbacks=(),
               precision="fp32"):
    """Train one PanelNet with Adam on the pinball loss, early-stopped on the validation windows
    (the best epoch's weights are put back).

    Args:
        net: a PanelNet. epoch_batches: `epoch_batches(epoch)` -> an iterable of batches as
            `shuffled_batches` yields them. val: the validation windows as one such batch.
        quantiles, learning_rate, epochs, patience: as in the forecasting Config.
        callbacks: more callbacks (e.g. the forecast Progress line).
        precision: "fp32" or "bf16" (`lstmkit.precision`), as the Config's.

    Returns:
        The trained net, in eval mode.
    """
    chunks = [tuple(p[i:i + 4096] for p in val) for i in range(0, len(val[0]), 4096)]
    model = Model(_Static(net))
    model.compile(optimizer=Adam(learning_rate=learning_rate, epsilon=1e-8), loss=PinballLoss(quantiles))
    stop = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    model.fit(_Epochs(epoch_batches), epochs=epochs, verbose=0, validation_data=_Epochs(lambda epoch: chunks),
              callbacks=[stop, *callbacks], precision=precision)
    return net.eval()


class _Epochs:
    """`Model.fit`'s dataset: epoch k's batches, drawn lazily from `epoch_batches(k)` (a stream
    never held whole), as ((x, codes, numeric), y) tensors."""

    def __init__(self, epoch_batches):
        self.epoch_batches, self.epoch = epoch_batches, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __iter__(self):
        for batch in self.epoch_batches(self.epoch):
            x, y, codes, numeric = _tensors(batch)
            yield (x, _Static.pack(codes, numeric)), y


class _Static(nn.Module):
    """A PanelNet taking (x, static): its codes and numeric static features in one float tensor
    (B, 1 + codes + numeric) behind a column of ones, so fit never sees a zero-width input (a panel
    without static covariates). Codes are exact as floats (vocabularies stay far below 2**24)."""

    def __init__(self, net):
        super().__init__()
        self.net, self.n_codes = net, len(net.embeddings)

    @staticmethod
    def pack(codes, numeric):
        return torch.cat([torch.ones(len(codes), 1), codes.float(), numeric], 1)

    def forward(self, x, static):
        k = 1 + self.n_codes
        return self.net(x, static[:, 1:k].long(), static[:, k:])
