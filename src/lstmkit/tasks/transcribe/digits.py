"""Which digit was spoken: a bidirectional LSTM over Free Spoken Digit Dataset MFCC sequences.

The second speech task, with many speakers and one word per recording: a classifier rather than CTC.
The network is trained with the Keras-style `lstmkit.models.Model`; a step mask keeps padding out
of the LSTM's state. The MFCC file holds no speaker ids, so the held-out
set is a stratified random share of the recordings (its speakers also speak in the training set).

Example:
    >>> data = load_fsdd()                                             # doctest: +SKIP
    >>> clf = train(data, DigitsConfig(epochs=1), verbose=0)           # doctest: +SKIP
    >>> evaluate(clf, data)["lstm"]["accuracy"]                        # doctest: +SKIP
    0.97
"""
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ... import nn as lnn
from ...data.speech_datasets import load_fsdd
from ...errors import DataError
from ...models import Model
from ...models.losses import SparseCategoricalCrossentropy
from ...seeding import set_seed
from ..common import Config as _Base
from ..common import Predictor
from ...precision import PRECISIONS
from ..schema import COUNT, FRACTION, MAX_LAYERS, MAX_UNITS, POSITIVE, RATE, SEED, agree, choice, fields, integer, items, number


@dataclass
class DigitsConfig(_Base):
    """The FSDD recipe."""
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.2
    epochs: int = 8  # about 97% after 2 epochs already; more epochs settle it
    batch_size: int = 32
    learning_rate: float = 3e-3
    test_fraction: float = 0.2
    seed: int = 0
    precision: str = "fp32"  # "bf16": mixed bfloat16 training, float32 weights (lstmkit.precision)

    SCHEMA = {"hidden_size": integer(1, MAX_UNITS), "num_layers": integer(1, MAX_LAYERS), "dropout": RATE,
              "epochs": COUNT, "batch_size": COUNT, "learning_rate": POSITIVE, "test_fraction": FRACTION,
              "precision": choice(*PRECISIONS), "seed": SEED}

    def __post_init__(self):
        self.check_positive("hidden_size", "num_layers", "epochs", "batch_size")
        self.check_fraction("test_fraction")
        self.check_choice("precision", PRECISIONS)


class DigitNet(nn.Module):
    """Masked bidirectional LSTM stack; the last forward and backward states -> Linear over classes.

    Example:
        >>> net = DigitNet(13, 10, hidden_size=8, num_layers=1)
        >>> net(torch.randn(2, 5, 13), torch.tensor([5, 3])).shape
        torch.Size([2, 10])
    """

    def __init__(self, n_features, n_classes, *, hidden_size=64, num_layers=2, dropout=0.2):
        super().__init__()
        self.lstm = lnn.LSTM(n_features, hidden_size, num_layers, batch_first=True,
                             dropout=dropout if num_layers > 1 else 0.0, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_size, n_classes)

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


def read_mfcc(files, n_features: int) -> list[np.ndarray]:
    """One (T, n_features) MFCC sequence per `.npy` file (written with numpy.save; never unpickled):
    the form FSDD's file holds, which is what the digit model reads; it does not featurize audio.

    Raises:
        DataError: a file that is missing, not a .npy array, or not (T >= 1, n_features) finite numbers.
    """
    out = []
    for f in files:
        try:
            seq = np.load(f, allow_pickle=False) if str(f).endswith(".npy") else None
        except (OSError, ValueError) as e:
            raise DataError(f"{f}: expected a .npy array, could not read it ({' '.join(str(e).split())[:80]})") from None
        if seq is None:
            raise DataError(f"{f}: expected a .npy file of ({n_features}-coefficient) MFCC frames, as FSDD's; "
                            "the digit model does not read audio")
        if seq.ndim != 2 or seq.shape[1] != n_features or not len(seq) or seq.dtype.kind not in "iuf" \
                or not np.isfinite(seq).all():
            raise DataError(f"{f}: expected finite MFCC frames of shape (T, {n_features}), got "
                            f"{seq.dtype} of shape {seq.shape}")
        out.append(seq.astype(np.float32))
    return out


class DigitClassifier(Predictor):
    """A trained digit classifier: the network and the training set's feature statistics.

    Example:
        >>> DigitClassifier.load("runs/transcribe-fsdd").predict(load_fsdd()[0][:2])  # doctest: +SKIP
        array([0, 0])
    """
    task, config_class = "digits", DigitsConfig
    META = fields({"n_features": integer(1, 1 << 16)}, required=("n_features",))
    PREPROCESSING = fields({"mean": items(number(), max_len=1 << 16),
                            "std": items(number(0, open_lo=True), max_len=1 << 16)}, required=("mean", "std"))
    command = "lstmkit transcribe train --fsdd"

    def __init__(self, config: DigitsConfig, n_features: int, mean: np.ndarray, std: np.ndarray):
        self.config, self.mean, self.std = config, np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.model = Model(DigitNet(n_features, 10, hidden_size=config.hidden_size,
                                    num_layers=config.num_layers, dropout=config.dropout))

    def predict(self, sequences) -> np.ndarray:
        """The digit (0-9) spoken in each (T_i, F) MFCC sequence, (N,)."""
        return np.asarray(self.model.predict(pad(list(sequences), self.mean, self.std))).argmax(-1)

    def _parts(self):
        meta = {"n_features": len(self.mean)}
        return meta, self.model.module.state_dict(), {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def _check(cls, config, meta, prep, where):
        for name in ("mean", "std"):  # one statistic per MFCC coefficient
            agree(f"{where['preprocessing']} {name}", len(prep[name]), meta["n_features"],
                  "its length: config.json's n_features")

    @classmethod
    def _network(cls, config, meta, prep):
        return cls(config, meta["n_features"], prep["mean"], prep["std"]).model.module

    @classmethod
    def _restore(cls, config, meta, network, prep):
        clf = cls(config, meta["n_features"], prep["mean"], prep["std"])
        clf.model = Model(network)
        return clf


def train(data=None, config: DigitsConfig | None = None, *, verbose=1, callbacks=None) -> DigitClassifier:
    """Train on the non-held-out recordings of `data` ((sequences, labels); default: FSDD's).

    Args:
        data: (list of (T_i, F) MFCC arrays, (N,) digit labels); config: the recipe.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        callbacks: more `lstmkit.models.callbacks.Callback`s for `Model.fit`.
    """
    config = config or DigitsConfig()
    set_seed(config.seed)
    X, y = load_fsdd() if data is None else data
    train_idx, _ = stratified_split(y, config.test_fraction, config.seed)
    frames = np.concatenate([X[k] for k in train_idx])
    mean, std = frames.mean(0), frames.std(0) + 1e-5  # (F,): MFCC scales differ by coefficient
    clf = DigitClassifier(config, X[0].shape[1], mean, std)
    model = clf.model
    model.compile(optimizer=torch.optim.Adam(model.parameters(), lr=config.learning_rate),
                  loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(pad([X[k] for k in train_idx], clf.mean, clf.std), y[train_idx], batch_size=config.batch_size,
              epochs=config.epochs, verbose=verbose, callbacks=callbacks, precision=config.precision)
    return clf


def evaluate(classifier: DigitClassifier, data=None) -> dict:
    """Accuracy on the held-out recordings of `data` (default: FSDD's), next to the majority class.

    Returns:
        {"lstm": {"accuracy", "n"}, "majority": {"accuracy", "n"}}.
    """
    X, y = load_fsdd() if data is None else data
    train_idx, test_idx = stratified_split(y, classifier.config.test_fraction, classifier.config.seed)
    pred = classifier.predict([X[k] for k in test_idx])
    common = np.bincount(y[train_idx]).argmax()
    return {"lstm": {"accuracy": float((pred == y[test_idx]).mean()), "n": len(test_idx)},
            "majority": {"accuracy": float((y[test_idx] == common).mean()), "n": len(test_idx)}}
