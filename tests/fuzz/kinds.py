"""The kinds of model the fuzzer mutates: one row each of (make_dir, load_and_use).

`make_dir(path)` writes a small, valid model directory of the kind; `load_and_use(path)` loads one
through the public API and uses it (predicts; trains one epoch where the model carries an optimizer),
raising whatever the library raises. When a load function changes, only its row here changes.
`clean` marks the kinds whose every failure is already a one-line LstmkitError: those run in
`make test`; all run behind `make fuzz`.
"""
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

RNG = np.random.default_rng(0)
SERIES_X = RNG.random((6, 5, 3), dtype=np.float32)
SERIES_Y = RNG.random((6, 2), dtype=np.float32)
IDS = RNG.integers(1, 30, (6, 7))
LABELS = RNG.integers(0, 3, (6,))
CALENDAR = RNG.random((6, 4), dtype=np.float32)


@dataclass(frozen=True)
class Kind:
    name: str
    make_dir: Callable
    load_and_use: Callable
    clean: bool


def _fit_and_save(model, x, y, path, **compile_args):
    model.compile(**compile_args)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save(path)


def make_sequential(path):
    from lstmkit.layers import LSTM, Dense, Dropout
    from lstmkit.models import Sequential

    model = Sequential([LSTM(6, input_shape=(None, 3), return_sequences=True, dropout=0.1),
                        LSTM(4), Dropout(0.2), Dense(2)])
    _fit_and_save(model, SERIES_X, SERIES_Y, path, optimizer="adam", loss="mse")


def make_lazy_sequential(path):
    """Built from its first batch: load_model rebuilds it from the recorded input shapes."""
    from lstmkit.layers import LSTM, Dense
    from lstmkit.models import Sequential

    _fit_and_save(Sequential([LSTM(3), Dense(2)]), SERIES_X, SERIES_Y, path, optimizer="sgd", loss="mae")


def make_embedding(path):
    from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding
    from lstmkit.models import Sequential

    model = Sequential([Embedding(30, 4, mask_zero=True, input_shape=(None,)), Bidirectional(LSTM(5)),
                        Dense(3, activation="softmax")])
    _fit_and_save(model, IDS, LABELS, path, optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


def make_functional(path):
    from lstmkit.layers import LSTM, Concatenate, Dense, Input
    from lstmkit.models import Model

    series, calendar = Input(shape=(None, 3)), Input(shape=(4,))
    out = Dense(2)(Concatenate()([LSTM(4)(series), calendar]))
    _fit_and_save(Model(inputs=[series, calendar], outputs=out), (SERIES_X, CALENDAR), SERIES_Y, path,
                  optimizer="adagrad", loss="huber")


def use_keras(x, y):
    def load_and_use(path):
        from lstmkit.models import load_model

        model = load_model(path)
        pred = model.predict(x)
        assert pred.shape[0] == len(y)
        if model.loss is not None:
            model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    return load_and_use


def make_forecast(path):
    from lstmkit.data.series import load_dataset
    from lstmkit.tasks import forecast

    air = load_dataset("airpassengers")[0]
    config = forecast.Config(target="passengers", epochs=1, ensemble=2, hidden_size=4)
    forecast.train(air, config, verbose=0).save(path)


def use_forecast(path):
    from lstmkit.data.series import load_dataset
    from lstmkit.tasks.forecast import Forecaster

    Forecaster.load(path).predict(data=load_dataset("airpassengers")[0])


def make_classify(path):
    from lstmkit.data.text_datasets import TextData, load_chinese_reviews
    from lstmkit.tasks import classify

    data = load_chinese_reviews()
    rows = random.Random(0).sample(list(zip(data.texts, data.labels)), 120)
    config = classify.Config(lang="zh", max_len=20, embed_dim=4, hidden_size=4, epochs=1, batch_size=32,
                             ensemble=2, seed=0)
    classify.train(TextData([t for t, _ in rows], [y for _, y in rows], "zh"), config, verbose=0).save(path)


def use_classify(path):
    from lstmkit.tasks import classify

    classify.Classifier.load(path).predict(["这本书很好看", "质量太差了"])


def make_translate(path):
    from lstmkit.data.pairs import dedup_pairs, read_gettext
    from lstmkit.tasks import translate

    pairs = dedup_pairs(read_gettext("fr"), max_words=3)[:40]
    config = translate.Config(embed_size=8, hidden_size=8, dropout=0.0, vocab_size=300, epochs=1,
                              batch_size=16, seed=0)
    translate.train(pairs, config, verbose=0).save(path)


def use_translate(path):
    from lstmkit.tasks.translate import Translator

    Translator.load(path).translate(["Open file", "Cannot open %s"])


def make_transcribe(path):
    from lstmkit.data.speech_datasets import load_asterisk
    from lstmkit.tasks import transcribe

    items = [u for u in load_asterisk() if u.id in ("digits/1", "digits/2", "auth-thankyou")]
    config = transcribe.Config(epochs=1, stack=2, hidden_size=8, num_layers=1, dropout=0.0,
                               batch_frames=100_000, speeds=(1.0,), spec_augment=False, lm_order=3, beam=4,
                               test_fraction=0.3)
    transcribe.train_on(items, config, verbose=0).save(path)


def use_transcribe(path):
    from lstmkit.tasks.transcribe import Transcriber

    transcriber = Transcriber.load(path)
    feats = [np.random.default_rng(0).random((50, transcriber.config.features.n_features), dtype=np.float32)]
    for lp in transcriber.log_probs(feats):
        transcriber.decode(lp)


def make_digits(path):
    from lstmkit.tasks.transcribe import digits

    X = [RNG.random((int(n), 13), dtype=np.float32) for n in RNG.integers(5, 12, 40)]
    config = digits.DigitsConfig(epochs=1, hidden_size=4, num_layers=1, batch_size=8)
    digits.train((X, np.arange(40) % 10), config, verbose=0).save(path)


def use_digits(path):
    from lstmkit.tasks.transcribe.digits import DigitClassifier

    clf = DigitClassifier.load(path)
    clf.predict([RNG.random((6, len(clf.mean)), dtype=np.float32)])


KINDS = {k.name: k for k in [
    Kind("sequential", make_sequential, use_keras(SERIES_X, SERIES_Y), clean=True),
    Kind("lazy_sequential", make_lazy_sequential, use_keras(SERIES_X, SERIES_Y), clean=True),
    Kind("embedding", make_embedding, use_keras(IDS, LABELS), clean=True),
    Kind("functional", make_functional, use_keras((SERIES_X, CALENDAR), SERIES_Y), clean=True),
    Kind("forecast", make_forecast, use_forecast, clean=True),
    Kind("classify", make_classify, use_classify, clean=True),
    Kind("translate", make_translate, use_translate, clean=True),
    Kind("transcribe", make_transcribe, use_transcribe, clean=True),
    Kind("digits", make_digits, use_digits, clean=True),
]}
CLEAN = [name for name, kind in KINDS.items() if kind.clean]

torch.set_num_threads(1)
