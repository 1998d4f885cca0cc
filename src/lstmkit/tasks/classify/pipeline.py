"""Text classification and sentiment: the network (`net.py`) trained with `lstmkit.models.Model`,
next to TF-IDF + logistic regression and the majority class on the same held-out split.

Example:
    >>> from lstmkit.data.text_datasets import load_vader
    >>> from lstmkit.tasks import classify
    >>> data = load_vader("movies")                                        # doctest: +SKIP
    >>> clf = classify.train(data, classify.Config(epochs=2), verbose=0)   # doctest: +SKIP
    >>> sorted(classify.evaluate(clf, data))                               # doctest: +SKIP
    ['lstm', 'majority', 'tfidf_logreg']
    >>> clf.predict(["a moving, funny film"])                              # doctest: +SKIP
    [('positive', 0.91)]
"""
import time

import numpy as np
import torch
from torch.nn import functional as F

from ...data.batching import length_batches
from ...data.text import TextEncoder, pad_batch
from ...data.text_datasets import TextData
from ...errors import DataError
from ...models import EarlyStopping, Model, optimizers
from ...seeding import set_seed
from ..common import Members, Predictor
from .baselines import majority, scores, tfidf_logreg
from .config import META, PREPROCESSING, Config, check_saved
from .net import TextClassifier, build_net


class _Lengths(torch.utils.data.Sampler):
    """Batches of texts of similar length (`length_batches`), so little time goes into padding.

    Training: shuffle, sort by length inside windows of 50 batches, then shuffle the batch order
    (random batches, little padding). Otherwise: all texts sorted by length, in order.
    """

    def __init__(self, lengths, batch_size, shuffle):
        self.lengths, self.batch_size, self.shuffle = lengths, batch_size, shuffle

    def __iter__(self):
        # Each epoch's order is drawn from torch's generator, which set_seed seeds and
        # BackupAndRestore saves and restores: a resumed run shuffles as an uninterrupted one.
        rng = np.random.default_rng(int(torch.randint(2**62, ()))) if self.shuffle else None
        return iter(length_batches(self.lengths, rng, batch_size=self.batch_size,
                                   window=50 if rng is not None else None))

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)


def _loader(ids, targets, batch_size, shuffle):
    """DataLoader of padded (ids (B, T), class ids (B,)) batches, or of ids alone when targets is None."""
    items = list(range(len(ids)))

    def collate(batch):
        x, _ = pad_batch([ids[k] for k in batch])
        return x if targets is None else (x, torch.tensor([targets[k] for k in batch]))
    sampler = _Lengths([len(s) for s in ids], batch_size, shuffle)
    return torch.utils.data.DataLoader(items, batch_sampler=sampler, collate_fn=collate)


class Classifier(Predictor):
    """A trained text classifier: encoder + one or more networks + label names; predict, save, load.

    With several networks (an ensemble, `Config.ensemble`), their probabilities are averaged.

    Example:
        >>> clf = Classifier.load("runs/classify-movies")  # doctest: +SKIP
        >>> clf.predict(["what a waste of time"])          # doctest: +SKIP
        [('negative', 0.87)]
    """
    task, config_class = "classify", Config
    legacy_config = ("config", "classify")
    META, PREPROCESSING = META, PREPROCESSING

    def __init__(self, nets: list[TextClassifier], encoder: TextEncoder, labels: list[str], config: Config):
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

    def _parts(self):
        meta = {"networks": len(self.models), "vocab_size": len(self.encoder.vocab),
                "num_classes": len(self.labels)}
        state = {f"{k}.{name}": t for k, m in enumerate(self.models) for name, t in m.module.state_dict().items()}
        return meta, state, {"text": self.encoder.to_dict(), "labels": self.labels}

    @classmethod
    def _check(cls, config, meta, prep, where):
        check_saved(config, meta, prep, where)

    @classmethod
    def _network(cls, config, meta, prep):
        """The networks as one module, its state_dict named as `_parts` saves it ("0.lstm...")."""
        return torch.nn.ModuleList([build_net(config, meta["vocab_size"], meta["num_classes"])
                                    for _ in range(meta["networks"])])

    @classmethod
    def _restore(cls, config, meta, network, prep):
        return cls(list(network), TextEncoder.from_dict(prep["text"]), list(prep["labels"]), config)


def train(data: TextData, config: Config | None = None, *, verbose=1, callbacks=None) -> Classifier:
    """Split `data` (`split`), fit the vocabulary on the training part, then the network(s), each
    stopping early on the validation loss with the weights of its best epoch.

    Args:
        data: labelled texts (at least 2 classes); config: a Config (default Config()).
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        callbacks: more `lstmkit.models.callbacks.Callback`s for every network's `Model.fit`; a
            `BackupAndRestore(dir)` makes the run resumable, network by network (see `Members`).

    Returns:
        A Classifier.
    """
    config = config or Config()
    train_part, val, _ = split(data, config)
    encoder = TextEncoder.fit(train_part.texts, config.tokenizer, min_freq=config.min_freq,
                              max_size=config.max_vocab, max_len=config.max_len)
    labels = sorted(set(train_part.labels))
    index = {label: k for k, label in enumerate(labels)}
    y_train = [index[v] for v in train_part.labels]
    y_val = [index.get(v, -100) for v in val.labels]  # -100: a label unseen in training is ignored
    weight = _class_weights(y_train, len(labels)) if config.class_weight == "balanced" else None
    train_ids, val_ids = encoder.ids(train_part.texts), encoder.ids(val.texts)
    models, members = [], Members(callbacks)
    for k in range(config.ensemble):
        if verbose and config.ensemble > 1:
            print(f"network {k + 1}/{config.ensemble}", flush=True)
        set_seed(config.seed + k)
        net = build_net(config, len(encoder.vocab), len(labels))
        if members.restore(k, net):  # finished by the run this one resumes
            models.append(Model(net).eval())
            continue
        models.append(_fit_one(net, config, weight, _loader(train_ids, y_train, config.batch_size, True),
                               _loader(val_ids, y_val, 256, False), verbose, members.callbacks(k)))
        members.finish(k, net)
    members.close()
    return Classifier(models, encoder, labels, config)


def _fit_one(net, config, weight, train_loader, val_loader, verbose, callbacks):
    """One network trained with lstmkit.models.Model; the best validation epoch's weights are kept."""
    model = Model(net)
    model.compile(optimizer=optimizers.AdamW(learning_rate=config.learning_rate,
                                            weight_decay=config.weight_decay),
                  loss=lambda y, logits: F.cross_entropy(logits, y, weight=weight, ignore_index=-100),
                  metrics=["accuracy"])
    stop = EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)
    model.fit(train_loader, validation_data=val_loader, epochs=config.epochs,
              verbose=min(verbose, 2), callbacks=[stop, *callbacks], precision=config.precision)
    return model


def _class_weights(y, num_classes) -> torch.Tensor:
    """'balanced' weights n / (k * count_c), as scikit-learn computes them."""
    counts = torch.bincount(torch.tensor(y), minlength=num_classes).float().clamp(min=1)
    return len(y) / (num_classes * counts)


def split(data: TextData, config: Config) -> tuple[TextData, TextData, TextData]:
    """Stratified train / validation / test split (seeded), after checking there are 2+ classes."""
    from sklearn.model_selection import train_test_split

    classes = sorted(set(data.labels))
    if len(classes) < 2:
        raise DataError(f"labels: expected at least 2 classes, got only {classes!r} in {len(data)} rows")
    try:
        x, x_test, y, y_test = train_test_split(data.texts, data.labels, test_size=config.test_fraction,
                                                random_state=config.seed, stratify=data.labels)
        x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=config.val_fraction,
                                                          random_state=config.seed, stratify=y)
    except ValueError as e:  # a class too rare to appear in every split
        raise DataError(f"labels: cannot split {len(data)} rows into train/validation/test with "
                        f"every class in each ({e})") from None
    return (TextData(x_train, y_train, "train"), TextData(x_val, y_val, "validation"),
            TextData(x_test, y_test, "test"))


def evaluate(classifier: Classifier, data: TextData) -> dict:
    """Score the classifier and both baselines (fit on the same training part) on `data`'s test split.

    Returns:
        {"lstm" | "tfidf_logreg" | "majority" (and, for an ensemble, "lstm_single": its first network
        alone): {"accuracy", "macro_f1", "confusion_matrix", ...}}; a baseline's entry also has
        "train_seconds".
    """
    config = classifier.config
    train_part, val, test = split(data, config)
    labels = sorted(set(data.labels))
    metrics = {"lstm": scores(test.labels, [y for y, _ in classifier.predict(test.texts)], labels)}
    if len(classifier.models) > 1:  # the first network alone, to show what the ensemble adds
        single = Classifier(classifier.models[:1], classifier.encoder, classifier.labels, config)
        metrics["lstm_single"] = scores(test.labels, [y for y, _ in single.predict(test.texts)], labels)
    for name, fit in (("tfidf_logreg", lambda: tfidf_logreg(train_part, val, config.lang)),
                      ("majority", lambda: majority(train_part))):
        start = time.perf_counter()
        baseline = fit()
        seconds = time.perf_counter() - start
        x = test.texts if name == "tfidf_logreg" else np.zeros((len(test), 1))
        metrics[name] = {**scores(test.labels, baseline.predict(x).tolist(), labels),
                         "train_seconds": round(seconds, 2)}
    return metrics
