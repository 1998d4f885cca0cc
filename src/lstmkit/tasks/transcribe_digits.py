"""Which digit was spoken: a bidirectional LSTM over Free Spoken Digit Dataset MFCC sequences.

The second speech task, with many speakers and one word per recording: a classifier rather than CTC.
The network is trained with the Keras-style `lstmkit.models.Model`; a step mask keeps padding out
of the LSTM's state. The MFCC file holds no speaker ids, so the held-out
set is a stratified random share of the recordings (its speakers also speak in the training set).

Example:
    >>> result = train_digits(DigitsConfig(epochs=1), verbose=0)      # doctest: +SKIP
    >>> 0 <= result["accuracy"] <= 1                                   # doctest: +SKIP
    True
"""
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import nn as lnn
from ..data.speech_datasets import load_fsdd
from ..models import Model
from ..models.losses import SparseCategoricalCrossentropy
from ..seeding import set_seed


@dataclass
class DigitsConfig:
    """The FSDD recipe."""
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.2
    epochs: int = 8  # about 97% after 2 epochs already; more epochs settle it
    batch_size: int = 32
    lr: float = 3e-3
    test_fraction: float = 0.2
    seed: int = 0


class DigitNet(nn.Module):
    """Masked bidirectional LSTM stack; the last forward and backward states -> Linear over classes.

    Example:
        >>> net = DigitNet(13, 10, hidden=8, layers=1)
        >>> net(torch.randn(2, 5, 13), torch.tensor([5, 3])).shape
        torch.Size([2, 10])
    """

    def __init__(self, n_features, n_classes, *, hidden=64, layers=2, dropout=0.2):
        super().__init__()
        self.lstm = lnn.LSTM(n_features, hidden, layers, batch_first=True,
                             dropout=dropout if layers > 1 else 0.0, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_classes)

    def forward(self, x, lengths):
        """x (B, T, F) padded, lengths (B,) -> logits (B, C)."""
        # A step mask: padded steps leave the state alone, so h_n is each sequence's own final
        # state; it also runs on the fused kernel, much faster to train on the CPU than packing.
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        _, (h, _) = self.lstm(x, mask=mask)  # h (L*2, B, H): the last layer's two directions come last
        return self.out(self.drop(torch.cat([h[-2], h[-1]], dim=1)))  # (B, C)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int):
    """(train indices, test indices) holding out `test_fraction` of every class."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test += idx[: round(len(idx) * test_fraction)].tolist()
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def pad(seqs, mean, std):
    """Standardise with the training set's statistics and zero-pad: -> (N, T_max, F), lengths (N,)."""
    lengths = np.array([len(s) for s in seqs])
    out = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]), np.float32)
    for row, s in zip(out, seqs):
        row[: len(s)] = (s - mean) / std
    return out, lengths


def train_digits(config: DigitsConfig = DigitsConfig(), *, verbose: int = 1) -> dict:
    """Train on FSDD and measure accuracy on held-out recordings.

    Args:
        config: the recipe.
        verbose: 0 silent, 1 progress bar (keyword-only).

    Returns:
        {"accuracy", "n" (held-out recordings), "seconds" (training), "model" (the trained Model)}.
    """
    set_seed(config.seed)
    X, y = load_fsdd()
    train_idx, test_idx = stratified_split(y, config.test_fraction, config.seed)
    frames = np.concatenate([X[k] for k in train_idx])
    mean, std = frames.mean(0), frames.std(0) + 1e-5  # (F,): MFCC scales differ by coefficient
    x_train, n_train = pad([X[k] for k in train_idx], mean, std)
    x_test, n_test = pad([X[k] for k in test_idx], mean, std)
    model = Model(DigitNet(X[0].shape[1], 10, hidden=config.hidden, layers=config.layers,
                           dropout=config.dropout))
    model.compile(optimizer=torch.optim.Adam(model.parameters(), lr=config.lr),
                  loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    start = time.time()
    model.fit((x_train, n_train), y[train_idx], batch_size=config.batch_size, epochs=config.epochs,
              verbose=verbose)
    seconds = time.time() - start
    pred = model.predict((x_test, n_test)).argmax(-1)
    accuracy = float((np.asarray(pred) == y[test_idx]).mean())
    return {"accuracy": accuracy, "n": len(test_idx), "seconds": seconds, "model": model}
