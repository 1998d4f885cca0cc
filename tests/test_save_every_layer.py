"""Every layer class in lstmkit.layers.LAYERS survives model.save / load_model in each format lstmkit
writes (its model directory, Keras' .keras and legacy .h5): the reloaded model predicts the same."""
import json

import numpy as np
import pytest

from lstmkit import initializers as I
from lstmkit import layers as L
from lstmkit.errors import ModelFileError
from lstmkit.models import Model, Sequential, load_model

X = np.random.default_rng(0).random((2, 6, 4), dtype=np.float32)


def _seq(*layers):
    return Sequential([L.Input(shape=(6, 4)), *layers])


def _pair(make):
    a, b = L.Input(shape=(6, 4)), L.Input(shape=(6, 4))
    return Model([a, b], make()([a, b]))


def _one(make):
    a = L.Input(shape=(6, 4))
    return Model(a, make(a))


def _nested_functional():
    a, b = L.Input(shape=(6, 4)), L.Input(shape=(6, 4))  # both named input_layer
    inner = Model(a, L.LSTM(3, return_sequences=True)(a))
    return Model(b, L.GRU(2)(inner(b)))


CASES = {
    "LSTM": lambda: _seq(L.LSTM(5, return_sequences=True), L.LSTM(3, peephole=True)),
    "Bidirectional": lambda: _seq(L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3, go_backwards=True))),
    "Bidirectional_none": lambda: _one(lambda a: L.Bidirectional(L.GRU(3), merge_mode=None)(a)),
    "Bidirectional_min": lambda: _seq(L.Bidirectional(L.MinGRU(3), merge_mode="sum")),
    "Dense": lambda: _seq(L.Flatten(), L.Dense(3)),
    "Embedding": lambda: Sequential([L.Input(shape=(6,)), L.Embedding(10, 4), L.LSTM(3)]),
    "Dropout": lambda: _seq(L.Dropout(0.2), L.SpatialDropout1D(0.1), L.GaussianNoise(0.1)),
    "Masking": lambda: _seq(L.Masking(0.0), L.GRU(3)),
    "Activation": lambda: _seq(L.Activation("relu"), L.LeakyReLU(), L.ReLU(), L.Softmax()),
    "TimeDistributed": lambda: _seq(L.TimeDistributed(L.Dense(3))),
    "merge": lambda: _one(lambda a: L.Concatenate()([L.Add()([a, a]), L.Multiply()([a, a]),
                                                     L.Average()([a, a]), L.Subtract()([a, a])])),
    "Dot": lambda: _pair(lambda: L.Dot(axes=2)),
    "rnn": lambda: _seq(L.SimpleRNN(5, return_sequences=True), L.MinLSTM(4, return_sequences=True),
                        L.MinGRU(3)),
    "reshaping": lambda: _seq(L.Permute((2, 1)), L.Reshape((24,)), L.RepeatVector(2)),
    "conv": lambda: _seq(L.Conv1D(3, 2), L.MaxPooling1D(2), L.AveragePooling1D(1),
                         L.GlobalAveragePooling1D()),
    "GlobalMaxPooling1D": lambda: _seq(L.GlobalMaxPooling1D()),
    "normalization": lambda: _seq(L.LayerNormalization(), L.BatchNormalization()),
    "attention": lambda: _pair(L.Attention),
    "AdditiveAttention": lambda: _pair(L.AdditiveAttention),
    "MultiHeadAttention": lambda: _one(lambda a: L.MultiHeadAttention(2, 3)(a, a)),
    "nested_functional": lambda: _nested_functional(),
    "initializer_objects": lambda: _seq(
        L.LSTM(3, return_sequences=True, kernel_initializer=I.GlorotUniform(seed=1)),
        L.GRU(3, return_sequences=True, recurrent_initializer=I.Orthogonal(gain=0.5)),
        L.MinGRU(3, return_sequences=True, kernel_initializer=I.GlorotNormal(seed=3)),
        L.Dense(2, kernel_initializer=I.HeNormal(seed=2), bias_initializer=I.Constant(0.3))),
}
PAIRS = ("Dot", "attention", "AdditiveAttention")  # the cases with two model inputs


def test_the_cases_use_every_layer_class():
    used = {type(m).__name__ for make in CASES.values() for m in make().modules()}
    assert set(L.LAYERS) - used == set()


@pytest.mark.parametrize("ext", ["", ".keras", ".h5"])
@pytest.mark.parametrize("case", list(CASES))
def test_saved_model_reloads_and_predicts_the_same(tmp_path, case, ext):
    model = CASES[case]()
    x = [X, X] if case in PAIRS else (np.arange(12).reshape(2, 6) % 10 if case == "Embedding" else X)
    before = model.predict(x, verbose=0)
    path = tmp_path / f"model{ext}"
    model.save(path)
    after = load_model(path).predict(x, verbose=0)
    before, after = (v if isinstance(v, list) else [v] for v in (before, after))
    assert len(before) == len(after)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("bad", [{"class_name": "Orthogonal", "config": {"gain": "x" * 300}},
                                 {"class_name": "Orthogonal", "config": [1]},
                                 {"class_name": "Orthogonal", "config": {}, "code": "x"}])
def test_a_damaged_initializer_object_is_refused_in_one_line(tmp_path, bad):
    CASES["initializer_objects"]().save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["model"]["config"]["layers"][0]["config"]["kernel_initializer"] = bad
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="kernel_initializer") as info:
        load_model(tmp_path / "m")
    assert "\n" not in str(info.value)
