"""Text classification and sentiment: Embedding -> bidirectional LSTM -> masked pooling -> Dense,
trained with `lstmkit.models.Model`, next to TF-IDF + logistic regression and the majority class on
the same held-out split.

Example:
    >>> from lstmkit.data.text_datasets import load_vader
    >>> from lstmkit.tasks import classify
    >>> report = classify.run(load_vader("movies"), classify.ClassifyConfig(epochs=2),
    ...                       out="runs/movies", verbose=0)           # doctest: +SKIP
    >>> sorted(report.metrics)                                        # doctest: +SKIP
    ['lstm', 'majority', 'tfidf_logreg']
    >>> report.classifier.predict(["a moving, funny film"])           # doctest: +SKIP
    [('positive', 0.91)]
"""
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import nn as lnn
from ..data.text import DEFAULT_TOKENIZER, TextEncoder, pad_batch
from ..data.text_datasets import TextData
from ..errors import DataError, LstmkitError, ModelFileError
from ..saving import read_model_dir, write_model_dir
from ..seeding import set_seed
from .text_baselines import majority, scores, tfidf_logreg

POOLINGS = ("last", "mean", "max", "attention", "meanmax")


@dataclass
class ClassifyConfig:
    """Everything that decides a classification run (saved in config.json).

    Defaults come from a handful of development runs on the movie snippets and the Chinese reviews
    (README, classify section).
    """
    lang: str = "en"  # "en" or "zh": picks the tokenizer and the baseline's n-grams
    tokenizer: str | None = None  # "en-word", "zh-char", "zh-word"; None: en-word / zh-word by lang
    min_freq: int = 2  # a word seen once in training cannot get a useful embedding from scratch
    max_vocab: int = 30000
    max_len: int = 200  # tokens kept per text (the start); longer texts are rare in these sets
    embed_dim: int = 128
    hidden_size: int = 64  # per direction
    num_layers: int = 1
    pooling: str = "max"  # last, mean, max, attention, or meanmax (mean and max concatenated)
    dropout: float = 0.5  # on the pooled features (and between LSTM layers)
    word_dropout: float = 0.4  # whole tokens zeroed in training: small data overfits on single words
    recurrent_dropout: float = 0.3  # variational dropout on h inside the LSTM (one mask per text)
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01  # AdamW, decoupled: keeps rarely seen embeddings small
    patience: int = 2  # epochs without a better validation loss before stopping; the best is kept
    class_weight: str | None = "balanced"  # "balanced" (n / (k * count)) or None
    test_size: float = 0.2
    val_size: float = 0.1  # of what remains after the test split
    ensemble: int = 1  # networks trained from seeds seed, seed+1, ...; probabilities averaged
    seed: int = 0

    def __post_init__(self):
        if self.lang not in DEFAULT_TOKENIZER:
            raise LstmkitError(f"lang: expected one of {sorted(DEFAULT_TOKENIZER)}, got {self.lang!r}")
        if self.pooling not in POOLINGS:
            raise LstmkitError(f"pooling: expected one of {POOLINGS}, got {self.pooling!r}")
        if self.num_layers not in (1, 2):
            raise LstmkitError(f"num_layers: expected 1 or 2, got {self.num_layers!r}")
        if not isinstance(self.ensemble, int) or self.ensemble < 1:
            raise LstmkitError(f"ensemble: expected a positive int, got {self.ensemble!r}")
        if self.class_weight not in (None, "balanced"):
            raise LstmkitError(f"class_weight: expected 'balanced' or None, got {self.class_weight!r}")
        self.tokenizer = self.tokenizer or DEFAULT_TOKENIZER[self.lang]


class TextClassifier(nn.Module):
    """Token ids (B, T), 0 = padding -> class logits (B, C).

    Embedding (padding id 0, i.e. Keras' mask_zero) -> bidirectional `lstmkit.nn.LSTM` run with the
    padding mask, so padded steps change no state and output zeros -> masked pooling -> Dropout -> Linear.

    Example:
        >>> net = TextClassifier(vocab_size=100, num_classes=3)
        >>> net(torch.tensor([[5, 6, 7], [8, 0, 0]])).shape
        torch.Size([2, 3])
    """

    def __init__(self, vocab_size, num_classes, embed_dim=128, hidden_size=64, num_layers=1,
                 pooling="max", dropout=0.5, word_dropout=0.25, recurrent_dropout=0.0):
        super().__init__()
        self.pooling, self.word_dropout = pooling, word_dropout
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = lnn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=True,
                             dropout=dropout if num_layers > 1 else 0.0,
                             recurrent_dropout=recurrent_dropout)
        features = 2 * hidden_size  # both directions
        if pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(features, hidden_size), nn.Tanh(),
                                           nn.Linear(hidden_size, 1, bias=False))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features * (2 if pooling == "meanmax" else 1), num_classes)

    def forward(self, ids):
        mask = ids != 0  # (B, T)
        x = self.embedding(ids)  # (B, T, E)
        if self.training and self.word_dropout:
            keep = torch.rand(ids.shape, device=ids.device) >= self.word_dropout
            x = x * keep.unsqueeze(-1) / (1 - self.word_dropout)
        y, (h, _) = self.lstm(x, mask=mask)  # y (B, T, 2H), zero on padding
        return self.output(self.dropout(self.pool(y, h, mask)))  # (B, C)

    def pool(self, y, h, mask):
        """(B, T, 2H) outputs -> (B, 2H) features (4H for meanmax), ignoring padded steps."""
        if self.pooling == "last":  # final states: forward after the last token, backward at the first
            return torch.cat([h[-2], h[-1]], dim=-1)
        m = mask.unsqueeze(-1)  # (B, T, 1)
        mean = y.sum(1) / m.sum(1).clamp(min=1)
        if self.pooling == "mean":
            return mean
        if self.pooling == "attention":
            scores = self.attention(y).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
            weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # an empty text gets no weights
            return (weights.unsqueeze(-1) * y).sum(1)
        top = y.masked_fill(~m, float("-inf")).amax(1)
        top = torch.where(mask.any(1, keepdim=True), top, torch.zeros_like(top))
        return top if self.pooling == "max" else torch.cat([mean, top], dim=-1)


class _Lengths(torch.utils.data.Sampler):
    """Batches of texts of similar length, so little time goes into padding.

    Training: shuffle, sort by length inside windows of 50 batches, then shuffle the batch order
    (random batches, little padding). Otherwise: all texts sorted by length, in order.
    """

    def __init__(self, lengths, batch_size, shuffle, seed=0):
        self.lengths, self.batch_size, self.shuffle = np.asarray(lengths), batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return iter([order[i:i + bs].tolist() for i in range(0, n, bs)])
        order, window = self.rng.permutation(n), 50 * bs
        for i in range(0, n, window):
            part = order[i:i + window]
            order[i:i + window] = part[np.argsort(self.lengths[part], kind="stable")]
        batches = [order[i:i + bs].tolist() for i in range(0, n, bs)]
        return iter([batches[k] for k in self.rng.permutation(len(batches))])

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)


def _loader(ids, targets, batch_size, shuffle, seed=0):
    """DataLoader of padded (ids (B, T), class ids (B,)) batches, or of ids alone when targets is None."""
    items = list(range(len(ids)))

    def collate(batch):
        x, _ = pad_batch([ids[k] for k in batch])
        return x if targets is None else (x, torch.tensor([targets[k] for k in batch]))
    sampler = _Lengths([len(s) for s in ids], batch_size, shuffle, seed)
    return torch.utils.data.DataLoader(items, batch_sampler=sampler, collate_fn=collate)


class Classifier:
    """A trained text classifier: encoder + one or more networks + label names; predict, save, load.

    With several networks (an ensemble, `ClassifyConfig.ensemble`), their probabilities are averaged.

    Example:
        >>> clf = Classifier.load("runs/classify/model")  # doctest: +SKIP
        >>> clf.predict(["what a waste of time"])         # doctest: +SKIP
        [('negative', 0.87)]
    """

    def __init__(self, nets: list[TextClassifier], encoder: TextEncoder, labels: list[str],
                 config: ClassifyConfig):
        from ..models import Model

        self.models = [n if isinstance(n, Model) else Model(n) for n in nets]
        self.encoder, self.labels, self.config = encoder, labels, config

    def predict_proba(self, texts, batch_size=256) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of `labels`."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        loader = _loader(self.encoder.ids(texts), None, batch_size, shuffle=False)
        order = torch.tensor([k for batch in loader.batch_sampler for k in batch])
        probs = sum(torch.from_numpy(m.predict(loader)).softmax(-1) for m in self.models)
        out = torch.empty_like(probs)
        out[order] = probs / len(self.models)  # batches come sorted by length: restore input order
        return out.numpy()

    def predict(self, texts) -> list[tuple[str, float]]:
        """(label, probability) for each text."""
        probs = self.predict_proba(texts)
        return [(self.labels[k], float(p[k])) for k, p in zip(probs.argmax(1), probs)]

    def save(self, path) -> Path:
        """Write config.json, model.safetensors and preprocessing.json (vocabulary, labels)."""
        config = {"task": "classify", "classify": asdict(self.config), "networks": len(self.models),
                  "vocab_size": len(self.encoder.vocab), "num_classes": len(self.labels)}
        state = {f"{k}.{name}": t for k, m in enumerate(self.models)
                 for name, t in m.module.state_dict().items()}
        prep = {"text": self.encoder.to_dict(), "labels": self.labels}
        return write_model_dir(path, config, state, prep)

    @classmethod
    def load(cls, path) -> "Classifier":
        """Read a directory written by `save`; a foreign or damaged one raises ModelFileError."""
        config, state, prep = read_model_dir(path)
        if config.get("task") != "classify" or prep is None:
            raise ModelFileError(f"model: {path} is not a text classifier "
                                 f"(task {config.get('task')!r}, preprocessing.json "
                                 f"{'present' if prep else 'missing'})")
        try:
            cfg = ClassifyConfig(**{f.name: config["classify"][f.name] for f in fields(ClassifyConfig)
                                    if f.name in config["classify"]})
            nets = []
            for k in range(int(config["networks"])):
                net = _network(cfg, config["vocab_size"], config["num_classes"])
                net.load_state_dict({name[len(f"{k}."):]: t for name, t in state.items()
                                     if name.startswith(f"{k}.")})
                nets.append(net)
            encoder, labels = TextEncoder.from_dict(prep["text"]), list(prep["labels"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise ModelFileError(f"model: {path} does not match a text classifier ({e})") from None
        return cls(nets, encoder, labels, cfg)


def _network(config: ClassifyConfig, vocab_size: int, num_classes: int) -> TextClassifier:
    return TextClassifier(vocab_size, num_classes, config.embed_dim, config.hidden_size,
                          config.num_layers, config.pooling, config.dropout, config.word_dropout,
                          config.recurrent_dropout)


def train_lstm(train: TextData, val: TextData, config: ClassifyConfig, verbose=1):
    """Fit the vocabulary on `train`, then the network(s), each stopping early on the validation loss.

    Returns:
        (Classifier with the weights of each network's best validation epoch,
         list of History.history dicts, one per network).
    """
    encoder = TextEncoder.fit(train.texts, config.tokenizer, min_freq=config.min_freq,
                              max_size=config.max_vocab, max_len=config.max_len)
    labels = sorted(set(train.labels))
    index = {label: k for k, label in enumerate(labels)}
    y_train = [index[v] for v in train.labels]
    y_val = [index.get(v, -100) for v in val.labels]  # -100: a label unseen in training is ignored
    weight = _class_weights(y_train, len(labels)) if config.class_weight == "balanced" else None
    train_ids, val_ids = encoder.ids(train.texts), encoder.ids(val.texts)
    models, histories = [], []
    for k in range(config.ensemble):
        if verbose and config.ensemble > 1:
            print(f"network {k + 1}/{config.ensemble}", flush=True)
        set_seed(config.seed + k)
        model, history = _fit_one(_network(config, len(encoder.vocab), len(labels)), config, weight,
                                  _loader(train_ids, y_train, config.batch_size, True, config.seed + k),
                                  _loader(val_ids, y_val, 256, False), verbose)
        models.append(model)
        histories.append(history)
    return Classifier(models, encoder, labels, config), histories


def _fit_one(net, config, weight, train_loader, val_loader, verbose):
    """One network trained with lstmkit.models.Model; the best validation epoch's weights are kept."""
    from ..models import EarlyStopping, Model, optimizers

    model = Model(net)
    model.compile(optimizer=optimizers.AdamW(learning_rate=config.learning_rate,
                                            weight_decay=config.weight_decay),
                  loss=lambda y, logits: F.cross_entropy(logits, y, weight=weight, ignore_index=-100),
                  metrics=["accuracy"])
    stop = EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)
    history = model.fit(train_loader, validation_data=val_loader, epochs=config.epochs,
                        verbose=min(verbose, 2), callbacks=[stop])
    return model, history.history


def _class_weights(y, num_classes) -> torch.Tensor:
    """'balanced' weights n / (k * count_c), as scikit-learn computes them."""
    counts = torch.bincount(torch.tensor(y), minlength=num_classes).float().clamp(min=1)
    return len(y) / (num_classes * counts)


def split(data: TextData, config: ClassifyConfig) -> tuple[TextData, TextData, TextData]:
    """Stratified train / validation / test split (seeded), after checking there are 2+ classes."""
    from sklearn.model_selection import train_test_split

    classes = sorted(set(data.labels))
    if len(classes) < 2:
        raise DataError(f"labels: expected at least 2 classes, got only {classes!r} in {len(data)} rows")
    try:
        x, x_test, y, y_test = train_test_split(data.texts, data.labels, test_size=config.test_size,
                                                random_state=config.seed, stratify=data.labels)
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=config.val_size,
                                                          random_state=config.seed, stratify=y)
    except ValueError as e:  # a class too rare to appear in every split
        raise DataError(f"labels: cannot split {len(data)} rows into train/validation/test with "
                        f"every class in each ({e})") from None
    return (TextData(x_train, y_train, "train"), TextData(x_val, y_val, "validation"),
            TextData(x_test, y_test, "test"))


@dataclass
class Report:
    """What `run` produced: the classifier, held-out scores per model, and timings in seconds."""
    classifier: Classifier
    metrics: dict
    seconds: dict
    sizes: dict
    histories: list = field(default_factory=list)


def run(data: TextData, config: ClassifyConfig | None = None, out=None, verbose=1) -> Report:
    """Split, train the LSTM and both baselines, score all three on the test split.

    Args:
        data: labelled texts (at least 2 classes).
        config: a ClassifyConfig (defaults when None).
        out: a directory for the model (out/model) and metrics.json, or None to write nothing.
        verbose: 0 silent, 1 progress and results, 2 one line per epoch.
    Returns:
        A Report; report.metrics maps 'lstm', 'tfidf_logreg', 'majority' (and, for an ensemble,
        'lstm_single': its first network alone) to their scores.
    """
    config = config or ClassifyConfig()
    train, val, test = split(data, config)
    labels = sorted(set(data.labels))
    metrics, seconds = {}, {}
    start = time.perf_counter()
    clf, histories = train_lstm(train, val, config, verbose)
    seconds["lstm"] = time.perf_counter() - start
    metrics["lstm"] = scores(test.labels, [y for y, _ in clf.predict(test.texts)], labels)
    if config.ensemble > 1:  # the first network alone, to show what the ensemble adds
        single = Classifier(clf.models[:1], clf.encoder, clf.labels, config)
        metrics["lstm_single"] = scores(test.labels, [y for y, _ in single.predict(test.texts)], labels)
        seconds["lstm_single"] = seconds["lstm"] / config.ensemble
    for name, fit in (("tfidf_logreg", lambda: tfidf_logreg(train, val, config.lang)),
                      ("majority", lambda: majority(train))):
        start = time.perf_counter()
        baseline = fit()
        seconds[name] = time.perf_counter() - start
        x = test.texts if name == "tfidf_logreg" else np.zeros((len(test), 1))
        metrics[name] = scores(test.labels, baseline.predict(x).tolist(), labels)
    report = Report(clf, metrics, seconds, {"train": len(train), "validation": len(val),
                                            "test": len(test)}, histories)
    if out is not None:
        write_outputs(report, out)
    return report


def write_outputs(report: Report, out) -> None:
    """out/model (the classifier) and out/metrics.json (scores, sizes, timings), written atomically."""
    out = Path(out)
    report.classifier.save(out / "model")
    payload = {**report.metrics, "labels": report.classifier.labels, "sizes": report.sizes,
               "seconds": {k: round(v, 2) for k, v in report.seconds.items()}}
    tmp = out / ".metrics.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    os.replace(tmp, out / "metrics.json")
