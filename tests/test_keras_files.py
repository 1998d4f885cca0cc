"""Keras' model files both ways, checked against Keras 3 itself (torch backend): models built and
saved by Keras load in lstmkit and predict the same; files lstmkit writes load in Keras."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit.errors import ModelFileError  # noqa: E402
from lstmkit.layers import LSTM, Bidirectional, Dense, Embedding, Input  # noqa: E402
from lstmkit.models import Model, Sequential, load_model  # noqa: E402
from lstmkit.saving import export_keras  # noqa: E402

L = keras.layers
RNG = np.random.default_rng(0)
SERIES = RNG.standard_normal((6, 7, 3)).astype("float32")
IDS = np.array([[3, 5, 7, 0, 0], [4, 4, 4, 4, 9], [1, 0, 0, 0, 0]])


def keras_models():
    """(name, Keras model, inputs) in the styles tutorials build."""
    keras.utils.set_random_seed(0)
    stacked = keras.Sequential([keras.Input((7, 3)), L.LSTM(8, return_sequences=True), L.LSTM(4), L.Dense(1)])
    ids = keras.Input((None,), dtype="int64")
    h = L.Bidirectional(L.LSTM(5, return_sequences=True))(L.Embedding(20, 4, mask_zero=True)(ids))
    text = keras.Model(ids, L.Dense(2, activation="softmax")(L.LSTM(3)(h)))
    enc_in, dec_in = keras.Input((None, 3)), keras.Input((None, 3))
    _, state_h, state_c = L.LSTM(6, return_state=True)(enc_in)
    dec = L.LSTM(6, return_sequences=True)(dec_in, initial_state=[state_h, state_c])
    s2s = keras.Model([enc_in, dec_in], L.TimeDistributed(L.Dense(4, activation="softmax"))(dec))
    series = keras.Input((7, 3), name="series")
    shared = L.LSTM(5, go_backwards=True)(series)
    heads = keras.Model(series, [L.Dense(1, name="level")(shared), L.Dense(3, activation="softmax",
                                                                             name="kind")(shared)])
    return [("stacked", stacked, SERIES), ("text", text, IDS), ("seq2seq", s2s, [SERIES, SERIES[:, :4]]),
            ("two_heads", heads, SERIES)]


def as_list(p):
    return [np.asarray(a) for a in p] if isinstance(p, (list, tuple)) else [np.asarray(p)]


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_models_saved_by_keras_load_and_predict_the_same(tmp_path, ext):
    for name, km, x in keras_models():
        path = tmp_path / f"{name}{ext}"
        km.save(path)
        model = load_model(path)
        for want, got in zip(as_list(km.predict(x, verbose=0)), as_list(model.predict(x, verbose=0))):
            np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"{name}{ext}")


def test_exported_models_load_in_keras_and_predict_the_same(tmp_path):
    lstmkit.set_seed(0)
    seq = Sequential([Input((7, 3)), LSTM(8, return_sequences=True), Bidirectional(LSTM(4)), Dense(2)])
    ids = Input((None,), dtype="int64")
    out, h, c = LSTM(4, return_state=True)(Embedding(20, 3, mask_zero=True)(ids))
    func = Model(ids, [Dense(1, activation="sigmoid")(out), Dense(2)(c)])
    for model, x in ((seq, SERIES), (func, IDS)):
        path = export_keras(model, tmp_path / f"{model.name}.keras")
        model.save(tmp_path / f"{model.name}.h5")  # Keras' legacy layout
        for km in (keras.saving.load_model(path), keras.saving.load_model(tmp_path / f"{model.name}.h5")):
            for want, got in zip(as_list(model.predict(x, verbose=0)), as_list(km.predict(x, verbose=0))):
                np.testing.assert_allclose(got, want, atol=1e-5)
    seq.save(tmp_path / "again.keras")  # model.save with a .keras name writes the same format
    np.testing.assert_allclose(load_model(tmp_path / "again.keras").predict(SERIES, verbose=0),
                               seq.predict(SERIES, verbose=0), atol=1e-6)


def test_weights_files_both_ways(tmp_path):
    _, km, x = keras_models()[0]
    km.save_weights(tmp_path / "k.weights.h5")
    lstmkit.set_seed(1)
    model = Sequential([Input((7, 3)), LSTM(8, return_sequences=True), LSTM(4), Dense(1)])
    model.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(model.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)
    lstmkit.set_seed(2)
    fresh = Sequential([Input((7, 3)), LSTM(8, return_sequences=True), LSTM(4), Dense(1)])
    fresh.save_weights(tmp_path / "l.weights.h5")
    km.load_weights(tmp_path / "l.weights.h5")
    np.testing.assert_allclose(km.predict(x, verbose=0), fresh.predict(x, verbose=0), atol=1e-5)


def tf_keras2_file(path, km):
    """Write `km` as tf.keras 2.x wrote an .h5 model: Keras 2's config (batch_input_shape, nested
    inbound_nodes lists) and weights named like 'lstm/lstm_cell/kernel:0'."""
    layers = [{"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
               "config": {"batch_input_shape": [None, 7, 3], "dtype": "float32", "sparse": False,
                          "ragged": False, "name": "input_1"}}]
    init = {"class_name": "GlorotUniform", "config": {"seed": None}}
    prev = "input_1"
    for k, units in enumerate((8, 4)):
        layers.append({"class_name": "LSTM", "name": f"lstm_{k}" if k else "lstm",
                       "inbound_nodes": [[[prev, 0, 0, {}]]],
                       "config": {"name": f"lstm_{k}" if k else "lstm", "trainable": True, "dtype": "float32",
                                  "return_sequences": k == 0, "return_state": False, "go_backwards": False,
                                  "stateful": False, "unroll": False, "time_major": False, "units": units,
                                  "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
                                  "kernel_initializer": init, "recurrent_initializer": {
                                      "class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
                                  "bias_initializer": {"class_name": "Zeros", "config": {}},
                                  "unit_forget_bias": True, "kernel_regularizer": None, "dropout": 0.0,
                                  "recurrent_dropout": 0.0, "implementation": 2}})
        prev = layers[-1]["name"]
    layers.append({"class_name": "Dense", "name": "dense", "inbound_nodes": [[[prev, 0, 0, {}]]],
                   "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 1,
                              "activation": "linear", "use_bias": True, "kernel_initializer": init}})
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["dense", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = "2.12.0", "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [s["name"].encode() for s in layers]
        for spec, klayer in zip(layers, [None, *km.layers]):
            lg = g.create_group(spec["name"])
            arrays = klayer.get_weights() if klayer is not None else []
            kinds = (["lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias"]
                     if spec["class_name"] == "LSTM" else ["kernel", "bias"])[:len(arrays)]
            names = [f"{spec['name']}/{kind}:0" for kind in kinds]
            lg.attrs["weight_names"] = [n.encode() for n in names]
            for n, a in zip(names, arrays):
                lg.create_dataset(n, data=a)


def test_legacy_tf_keras2_h5_loads_and_predicts_the_same(tmp_path):
    _, km, x = keras_models()[0]
    tf_keras2_file(tmp_path / "old.h5", km)
    model = load_model(tmp_path / "old.h5")
    assert [layer.name for layer in model.layers] == ["input_1", "lstm", "lstm_1", "dense"]
    np.testing.assert_allclose(model.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)


def test_layers_that_need_code_are_refused(tmp_path):
    inp = keras.Input((3,))
    km = keras.Model(inp, L.Lambda(lambda t: t * 2)(L.Dense(2)(inp)))
    km.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="needs Python code"):
        load_model(tmp_path / "lambda.keras")
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "junk.keras")
