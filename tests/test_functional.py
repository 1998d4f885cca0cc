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
