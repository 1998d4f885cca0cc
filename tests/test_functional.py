"""Keras' functional API: Input -> layers on symbolic tensors -> Model(inputs, outputs)."""
import numpy as np
import pytest
from test_models import airline_windows

import lstmkit
from lstmkit.errors import LstmkitError
from lstmkit.layers import (LSTM, Add, Bidirectional, Concatenate, Dense, Embedding, Input, KerasTensor)
from lstmkit.models import Model, Sequential, load_model
from lstmkit.models.functional import Functional


def test_the_classic_example_written_functionally_matches_sequential():
    lstmkit.set_seed(0)
    inputs = Input(shape=(None, 1))
    hidden = LSTM(50)(inputs)
    assert isinstance(hidden, KerasTensor) and hidden.shape == (None, 50)
    model = Model(inputs, Dense(1)(hidden))
    assert isinstance(model, Functional) and isinstance(model, Model)
    seq = Sequential([LSTM(50, input_shape=(None, 1)), Dense(1)])
    assert model.count_params() == seq.count_params() == 10451
    seq.set_weights(model.get_weights())
    X, y = airline_windows()
    np.testing.assert_allclose(model.predict(X, verbose=0), seq.predict(X, verbose=0), rtol=0, atol=0)
    model.compile(optimizer="rmsprop", loss="mse")
    loss = model.fit(X, y, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert loss[-1] < 0.5 * loss[0]


def test_two_inputs_merge_train_save_and_load(tmp_path):
    lstmkit.set_seed(1)
    X, y = airline_windows()
    month = np.eye(12)[np.arange(len(X)) % 12]  # a second input: the month, one-hot
    series, calendar = Input(shape=(None, 1)), Input(shape=(12,))
    joined = Concatenate()([LSTM(8)(series), Dense(8, activation="relu")(calendar)])
    model = Model(inputs=[series, calendar], outputs=Dense(1)(joined), name="two_inputs")
    model.compile("adam", "mse")
    history = model.fit([X, month], y, epochs=3, batch_size=32, verbose=0)
    assert len(history.history["loss"]) == 3
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Functional) and loaded.name == "two_inputs"
    np.testing.assert_array_equal(loaded.predict([X, month], verbose=0), model.predict([X, month], verbose=0))
    assert loaded.summary(print_fn=None) == model.summary(print_fn=None)
    assert "concatenate (Concatenate)" in model.summary(print_fn=None)


def test_masks_flow_through_the_graph():
    lstmkit.set_seed(2)
    ids = Input(shape=(None,), dtype="int64")
    out = Dense(2)(Bidirectional(LSTM(4))(Embedding(20, 3, mask_zero=True)(ids)))
    model = Model(ids, out)
    seq = Sequential([Input((None,)), Embedding(20, 3, mask_zero=True), Bidirectional(LSTM(4)), Dense(2)])
    seq.set_weights(model.get_weights())
    x = np.array([[3, 5, 7, 0, 0], [4, 4, 4, 4, 9]])
    np.testing.assert_allclose(model.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=0, atol=1e-7)
    # padding changes nothing: the masked steps are skipped
    np.testing.assert_allclose(model.predict(x[:1, :3], verbose=0), model.predict(x[:1], verbose=0), atol=1e-6)


def test_a_layer_called_twice_shares_its_weights():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    shared = Dense(2)
    model = Model([a, b], Add()([shared(a), shared(b)]))
    assert model.count_params() == 3 * 2 + 2
    assert model.summary(print_fn=None).count("dense (Dense)") == 1  # listed once, as Keras does
    x1, x2 = np.random.default_rng(0).random((2, 4, 3))
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0),
                               model.predict([x2, x1], verbose=0), atol=1e-6)


def test_bad_graphs_and_inputs_are_clear_errors():
    a, b = Input(shape=(3,)), Input(shape=(2,))
    with pytest.raises(LstmkitError, match="not in inputs"):
        Model(a, Concatenate()([Dense(2)(a), b]))
    with pytest.raises(LstmkitError, match="outputs: expected the tensor"):
        Model(a, [Dense(1)(a), "not a tensor"])
    with pytest.raises(LstmkitError, match="does not match|do not match"):
        Concatenate(axis=1)([Input(shape=(None, 3)), Input(shape=(5, 2))])
    with pytest.raises(LstmkitError, match="Input tensors"):
        Model("not a module")
    model = Model([a, b], Concatenate()([a, b]))
    with pytest.raises(LstmkitError, match="2 input array"):
        model.predict(np.zeros((4, 3)), verbose=0)
    with pytest.raises(LstmkitError, match=r"x\[1\]: expected shape \(batch, 2\)"):
        model.predict([np.zeros((4, 3)), np.zeros((4, 5))], verbose=0)
    with pytest.raises(LstmkitError, match="dtype"):
        Input(shape=(3,), dtype="complex64")
    assert Input(shape=(np.int64(3),)).shape == (None, 3)
    for bad in ((0,), ("a",), (2.0,), (-1, 3), (True,)):
        with pytest.raises(LstmkitError, match="shape: expected sizes"):
            Input(shape=bad)
    with pytest.raises(LstmkitError, match="shape: expected sizes"):
        Input(shape=(3,), batch_size=0)


def test_input_dtype_given_as_a_type():
    assert [Input(shape=(3,), dtype=t).dtype for t in (float, int, np.float32, np.int32)] == [
        "float32", "int64", "float32", "int32"]


def test_layer_names_stay_unique_when_layers_move_between_models():
    a = Input(shape=(3,))
    encoder = Dense(4)
    Model(a, encoder(a))  # names it "dense"
    b = Input(shape=(5,), name="features")
    reused = Model(b, encoder(Dense(3)(b)))  # the new layer must not take (and drop) "dense"
    assert reused.count_params() == 5 * 3 + 3 + 3 * 4 + 4
    assert [layer.name for layer in reused.layers] == ["features", "dense_1", "dense"]  # Keras lists inputs
    assert "features (InputLayer)" in reused.summary(print_fn=None)
    with pytest.raises(LstmkitError, match="named 'd'"):
        Model(a, Dense(1, name="d")(Dense(2, name="d")(a)))
    with pytest.raises(LstmkitError, match="named 'd'"):
        Sequential([Input((3,)), Dense(2, name="d"), Dense(1, name="d")])


def test_clear_errors_inside_the_graph(tmp_path):
    x = Input(shape=(None, 2))
    out, h, c = LSTM(4, return_state=True)(x)  # several outputs of one layer
    out, h, c = Model(x, [out, h, c]).predict(np.ones((3, 5, 2)), verbose=0)
    assert out.shape == h.shape == c.shape == (3, 4)
    np.testing.assert_array_equal(out, h)
    ids = Input(shape=(None,), dtype="int64", name="ids")
    model = Model(ids, Dense(1)(LSTM(2)(Embedding(5, 2)(ids))))
    with pytest.raises(LstmkitError, match=r"token ids in \[0, 4\]"):
        model.predict(np.array([[1, 7]]), verbose=0)
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").inputs[0].name == "ids"


def test_sequences_joined_in_time_keep_their_masks():
    lstmkit.set_seed(3)
    first, second = Input(shape=(None,), dtype="int64"), Input(shape=(None,), dtype="int64")
    embed = Embedding(10, 3, mask_zero=True)
    joined = Concatenate(axis=1)([embed(first), embed(second)])
    model = Model([first, second], LSTM(4)(joined))
    a, b = np.array([[1, 2, 0]]), np.array([[3, 0]])
    packed = Model(first, LSTM(4)(embed(first)))
    packed.layers[-1].set_weights(model.layers[-1].get_weights())
    # masked steps are skipped wherever they sit: the same as the valid ids run back to back
    np.testing.assert_allclose(model.predict([a, b], verbose=0), packed.predict(np.array([[1, 2, 3]]), verbose=0),
                               atol=1e-6)


def test_seq2seq_inference_models_rebuilt_from_trained_layers_match_the_training_graph():
    lstmkit.set_seed(4)
    enc_in, dec_in = Input(shape=(None, 3)), Input(shape=(None, 3))
    _, h, c = LSTM(6, return_state=True, name="encoder")(enc_in)
    seq, _, _ = LSTM(6, return_sequences=True, return_state=True, name="decoder")(dec_in, initial_state=[h, c])
    model = Model([enc_in, dec_in], Dense(3, activation="softmax", name="head")(seq))
    assert [layer.name for layer in model.layers] == ["input_layer", "input_layer_1", "encoder", "decoder", "head"]
    encoder = Model(model.input[0], list(model.get_layer("encoder").output[1:]))
    h_in, c_in = Input(shape=(6,)), Input(shape=(6,))
    step, h2, c2 = model.layers[3](model.input[1], initial_state=[h_in, c_in])
    decoder = Model([model.input[1], h_in, c_in], [model.get_layer("head")(step), h2, c2])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))
    full = model.predict([a, b], verbose=0)
    states = encoder.predict(a, verbose=0)
    for t in range(4):  # one step at a time, the states fed back, gives the teacher-forced outputs
        out, *states = decoder.predict([b[:, t:t + 1], *states], verbose=0)
        np.testing.assert_allclose(out[:, 0], full[:, t], atol=1e-6)
    with pytest.raises(LstmkitError, match="no layer named 'nope'"):
        model.get_layer("nope")


def test_several_outputs_take_losses_metrics_and_weights_as_lists_or_dicts():
    lstmkit.set_seed(5)
    x = Input(shape=(4,))
    h = Dense(8, activation="relu")(x)
    model = Model(x, [Dense(1, name="a")(h), Dense(2, activation="softmax", name="b")(h)])
    rng = np.random.default_rng(1)
    X, ya, yb = rng.standard_normal((64, 4)), rng.standard_normal((64, 1)), rng.integers(0, 2, 64)
    for loss, weights, metrics in ((["mse", "sparse_categorical_crossentropy"], [2.0, 0.5], [[], ["accuracy"]]),
                                   ({"a": "mse", "b": "sparse_categorical_crossentropy"}, {"a": 2.0, "b": 0.5},
                                    {"b": "accuracy"})):
        model.compile("adam", loss, metrics=metrics, loss_weights=weights)
        logs = model.evaluate(X, {"a": ya, "b": yb}, verbose=0, return_dict=True)
        assert set(logs) == {"loss", "a_loss", "b_loss", "b_accuracy"}
        assert logs["loss"] == pytest.approx(2.0 * logs["a_loss"] + 0.5 * logs["b_loss"], rel=1e-5)
    history = model.fit(X, [ya, yb], epochs=2, verbose=0, validation_split=0.25)
    assert {"a_loss", "val_b_accuracy"} <= set(history.history)
    with pytest.raises(LstmkitError, match="unknown output name"):
        model.compile("adam", {"a": "mse", "c": "mse"})
    with pytest.raises(LstmkitError, match="2 output"):
        model.fit(X, ya, verbose=0)


def test_models_nest_as_layers_and_save(tmp_path):
    lstmkit.set_seed(6)
    inner_in = Input(shape=(None, 2))
    encoder = Model(inner_in, LSTM(4)(inner_in), name="encoder")
    head = Sequential([Input((4,)), Dense(3, activation="relu"), Dense(1)], name="head")
    a, b = Input(shape=(None, 2)), Input(shape=(None, 2))
    model = Model([a, b], head(Add()([encoder(a), encoder(b)])))  # one encoder, two calls: shared weights
    assert model.count_params() == encoder.count_params() + head.count_params()
    rng = np.random.default_rng(2)
    xa, xb = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 2))
    enc = encoder.predict(xa, verbose=0) + encoder.predict(xb, verbose=0)
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), head.predict(enc, verbose=0), atol=1e-6)
    model.save(tmp_path / "nested")
    np.testing.assert_array_equal(load_model(tmp_path / "nested").predict([xa, xb], verbose=0),
                                  model.predict([xa, xb], verbose=0))


def test_model_files_of_the_first_graph_format_still_load():
    lstmkit.set_seed(7)
    config = {"name": "old", "inputs": [{"shape": [None, 2], "dtype": "float32", "name": None}],
              "layers": [{"class_name": "LSTM", "config": {"units": 3, "name": "lstm"}},
                         {"class_name": "Dense", "config": {"units": 1, "name": "dense"}}],
              "nodes": [{"layer": 0, "inputs": [["input", 0]], "list": False},
                        {"layer": 1, "inputs": [["node", 0]], "list": False}],
              "output": ["node", 1]}
    model = Functional.from_config(config)
    assert model.name == "old" and model.predict(np.zeros((2, 4, 2)), verbose=0).shape == (2, 1)
