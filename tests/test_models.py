"""Keras-style models: the classic example on real data, fit/evaluate/predict, callbacks, save/load,
seeding, and a clear error for every bad input."""
import importlib.resources
import json

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.errors import DataError, LstmkitError, ModelFileError
from lstmkit.models import (CSVLogger, EarlyStopping, LambdaCallback, Model, ModelCheckpoint,
                            NonFiniteLoss, ReduceLROnPlateau, Sequential, load_model)




def airline_windows(steps=12):
    """Windows of the bundled AirPassengers series, scaled to [0, 1]: (132, 12, 1) and (132,)."""
    with importlib.resources.as_file(importlib.resources.files("lstmkit.data") / "bundled/airpassengers.csv") as p:
        v = pd.read_csv(p).iloc[:, 1].to_numpy(dtype="float64")
    v = (v - v.min()) / (v.max() - v.min())
    X = np.stack([v[i:i + steps] for i in range(len(v) - steps)])[..., None]
    return X, v[steps:]


def test_classic_keras_example_loss_falls():
    from lstmkit.models import Sequential
    from lstmkit.layers import LSTM, Dense

    lstmkit.set_seed(0)
    X, y = airline_windows()

    model = Sequential()
    model.add(LSTM(50, input_shape=(None, 1)))
    model.add(Dense(1))
    model.compile(optimizer='rmsprop', loss='mse')
    history = model.fit(X, y, epochs=8, batch_size=16, verbose=0)

    losses = history.history["loss"]
    assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]
    assert model.evaluate(X, y, verbose=0) == pytest.approx(float(np.mean((model.predict(X)[:, 0] - y) ** 2)),
                                                            rel=1e-4)
    assert model.predict(X[:5]).shape == (5, 1) and isinstance(model.predict(X[:5]), np.ndarray)


def small_model(metrics=None, **compile):
    from lstmkit.layers import LSTM, Dense
    model = Sequential([LSTM(8, input_shape=(None, 1)), Dense(1)])
    model.compile(optimizer=compile.get("optimizer", "adam"), loss="mse", metrics=metrics)
    return model


def test_history_validation_metrics_and_evaluate():
    lstmkit.set_seed(0)
    X, y = airline_windows()
    model = small_model(metrics=["mae", "rmse"])
    h = model.fit(X, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"} and h.epoch == [0, 1]
    loss, mae, rmse = model.evaluate(X[-33:], y[-33:], verbose=0)
    assert loss == pytest.approx(h.history["val_loss"][-1], rel=1e-5) and rmse == pytest.approx(loss ** 0.5)
    h2 = model.fit(X, y, epochs=3, initial_epoch=2, validation_data=(X[:10], y[:10]), verbose=0)
    assert h2.epoch == [2] and len(h2.history["val_loss"]) == 1
    assert model.evaluate(X, y, verbose=0, return_dict=True).keys() == {"loss", "mae", "rmse"}


def test_set_seed_repeats_the_training_run():
    X, y = airline_windows()
    runs = []
    for _ in range(2):
        lstmkit.set_seed(7)
        model = small_model()
        runs.append((model.fit(X, y, epochs=2, verbose=0).history["loss"], model.predict(X)))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = lstmkit.nn.LSTM(1, 8, batch_first=True)
        self.head = torch.nn.Linear(8 + 2, 3)

    def forward(self, seq, extra):
        _, (h, _) = self.lstm(seq)
        return self.head(torch.cat([h[-1], extra], 1))


def test_any_torch_module_multi_input_dataset_and_custom_loss():
    lstmkit.set_seed(0)
    X, y = airline_windows()
    labels = (y * 2.99).astype("int64")  # three classes
    extra = np.random.default_rng(0).random((len(X), 2))
    model = Model(TwoInputs())
    model.compile(optimizer="adam", loss=lambda t, p: torch.nn.functional.cross_entropy(p, t))
    h = model.fit((X, extra), labels, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    probs = model.predict((X, extra))
    assert probs.shape == (len(X), 3)
    ds = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y[:, None]))
    reg = Model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1)))
    reg.compile("sgd", "mse")
    assert len(reg.fit(ds, epochs=2, batch_size=16, verbose=0, validation_data=ds).history["val_loss"]) == 2
    assert reg.predict(ds).shape == (len(X), 1)


def test_classification_losses_accuracy_and_class_weight():
    from lstmkit.layers import LSTM, Dense, Embedding
    lstmkit.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, (64, 6))
    y = (x[:, 0] > 10).astype("int64")
    for loss, out, target in (("binary_crossentropy", Dense(1, activation="sigmoid"), y[:, None].astype("float32")),
                              ("sparse_categorical_crossentropy", Dense(2, activation="softmax"), y),
                              ("categorical_crossentropy", Dense(2, activation="softmax"), np.eye(2)[y])):
        model = Sequential([Embedding(20, 4), LSTM(8), out])
        model.compile("adam", loss, metrics=["accuracy"])
        h = model.fit(x, target, epochs=1, verbose=0)
        assert 0 <= h.history["accuracy"][0] <= 1
    with pytest.raises(LstmkitError, match="class_weight"):
        m = Model(torch.nn.Linear(2, 1))
        m.compile("sgd", lambda p, t: (p - t).abs().mean())
        m.fit(np.ones((4, 2)), np.ones((4, 1)), class_weight={0: 1.0}, verbose=0)


@pytest.mark.parametrize("weights,sign", [({0: 1.0, 1: 0.0}, -1), ({0: 0.0, 1: 1.0}, 1)])
def test_class_weight_weights_the_loss(weights, sign):
    from lstmkit.models.losses import BinaryCrossentropy
    model = Model(torch.nn.Linear(1, 1))
    torch.nn.init.zeros_(model.module.weight), torch.nn.init.zeros_(model.module.bias)
    model.compile(optimizer="sgd", loss=BinaryCrossentropy(from_logits=True))
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    model.fit(np.ones((4, 1)), y, epochs=3, verbose=0, class_weight=weights)
    assert np.sign(model.predict(np.ones((1, 1)))[0, 0]) == sign  # only the weighted class pulls


def test_early_stopping_restores_best_weights_and_callbacks_fire(tmp_path):
    lstmkit.set_seed(0)
    X, y = airline_windows()
    model = small_model(optimizer="sgd")
    seen = {"epochs": [], "batches": 0}
    log = tmp_path / "log.csv"
    stop = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    # validation targets the model cannot fit: val_loss rises once it learns the training data
    h = model.fit(X[:100], y[:100], epochs=30, batch_size=50, verbose=0, validation_data=(X[100:], -y[100:] * 10),
                  callbacks=[stop, CSVLogger(log),
                             LambdaCallback(on_epoch_end=lambda e, logs: seen["epochs"].append(e),
                                            on_train_batch_end=lambda b, logs: seen.__setitem__(
                                                "batches", seen["batches"] + 1))])
    epochs = len(h.history["loss"])
    assert epochs < 30 and seen["epochs"] == list(range(epochs)) and seen["batches"] == 2 * epochs
    best = int(np.argmin(h.history["val_loss"]))
    assert model.evaluate(X[100:], -y[100:] * 10, verbose=0) == pytest.approx(h.history["val_loss"][best], rel=1e-5)
    rows = pd.read_csv(log)
    assert list(rows["epoch"]) == list(range(epochs)) and "val_loss" in rows


def test_model_checkpoint_and_reduce_lr(tmp_path):
    lstmkit.set_seed(0)
    X, y = airline_windows()
    model = small_model()
    best = tmp_path / "best"
    every = str(tmp_path / "ep{epoch:02d}")
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)  # never "improves"
    h = model.fit(X, y, epochs=3, verbose=0, callbacks=[
        ModelCheckpoint(best, monitor="loss", save_best_only=True), ModelCheckpoint(every), reduce])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "ep01", "ep02", "ep03"]
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.001 / 4)
    assert h.history["learning_rate"][0] == pytest.approx(0.001)
    np.testing.assert_array_equal(load_model(tmp_path / "ep03").predict(X), model.predict(X))


def test_save_load_round_trip_is_exact(tmp_path):
    from lstmkit.layers import LSTM, Bidirectional, Dense, Dropout, Embedding, TimeDistributed
    lstmkit.set_seed(0)
    model = Sequential([Embedding(30, 5, mask_zero=True), Bidirectional(LSTM(6, return_sequences=True)),
                        Dropout(0.2), TimeDistributed(Dense(4)), LSTM(3, recurrent_dropout=0.1),
                        Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(0, 30, (16, 7))
    model.fit(x, x[:, 0] % 2, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.summary(print_fn=None) == model.summary(print_fn=None)
    assert loaded.evaluate(x, x[:, 0] % 2, verbose=0) == model.evaluate(x, x[:, 0] % 2, verbose=0)
    other = Sequential.from_config(model.get_config())
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_training_resumes_after_load_as_if_never_stopped(tmp_path, optimizer):
    X, y = airline_windows()
    lstmkit.set_seed(0)
    model = Sequential([lstmkit.layers.LSTM(8, input_shape=(None, 1)), lstmkit.layers.Dense(1)])
    model.compile(optimizer, "mse")
    model.fit(X, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "optimizer.safetensors").is_file() or optimizer == "sgd"  # plain SGD keeps none
    loaded = load_model(tmp_path / "m")
    assert loaded.optimizer.state_dict()["param_groups"][0]["lr"] == model.optimizer.param_groups[0]["lr"]
    for a, b in zip(loaded.optimizer.state_dict()["state"].values(), model.optimizer.state_dict()["state"].values()):
        for name in b:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    model.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh = load_model(tmp_path / "m")  # a freshly built optimizer would take a different step
    fresh.optimizer = None
    fresh._prepare_optimizer()
    fresh.fit(X, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    if optimizer != "sgd":
        assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))


def test_damaged_optimizer_state_is_a_clear_error(tmp_path):
    X, y = airline_windows()
    model = Sequential([lstmkit.layers.LSTM(4, input_shape=(None, 1)), lstmkit.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(X[:32], y[:32], epochs=1, verbose=0)
    model.save(tmp_path / "m")
    (tmp_path / "m" / "optimizer.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(ModelFileError, match="optimizer.safetensors"):
        load_model(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m", compile=False).predict(X[:4]), model.predict(X[:4]))


def test_damaged_model_files_give_clear_errors(tmp_path):
    model = small_model()
    model.save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(tmp_path / "m")
    model.save(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    spec = json.loads(config.read_text())
    spec["model"]["config"]["layers"][0]["config"]["units"] = "many"
    config.write_text(json.dumps(spec))
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(tmp_path / "m")
    spec["model"]["config"]["layers"][0]["config"]["units"] = 9
    config.write_text(json.dumps(spec))
    with pytest.raises(ModelFileError, match="shape"):
        load_model(tmp_path / "m")
    spec["model"] = {"class_name": "Forecaster"}
    config.write_text(json.dumps(spec))
    with pytest.raises(ModelFileError, match="Keras-style"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "nothing-here")
    with pytest.raises(LstmkitError, match="get_config"):
        Model(torch.nn.Linear(2, 2)).save(tmp_path / "plain")


def test_bad_inputs_raise_clear_errors():
    X, y = airline_windows()
    model = small_model()
    cases = [
        (lambda: model.fit(X, y[:-1], verbose=0), DataError, "same number of samples"),
        (lambda: model.fit(np.concatenate([X, X], -1), y, verbose=0), LstmkitError, r"expected shape \(batch, None, 1\)"),
        (lambda: model.fit(np.where(X > 0.5, np.nan, X), y, verbose=0), DataError, "NaN or inf"),
        (lambda: model.fit(X, np.full_like(y, np.inf), verbose=0), DataError, "y: expected finite"),
        (lambda: model.fit(X, y, batch_size=0, verbose=0), LstmkitError, "batch_size"),
        (lambda: model.compile("adamx", "mse"), LstmkitError, "known: sgd, rmsprop, adam, adamw, adagrad, adadelta, adamax, nadam"),
        (lambda: model.compile("adam", "mlse"), LstmkitError, "known: mse"),
        (lambda: model.compile("adam", "mse", metrics=["auc"]), LstmkitError, "known: accuracy"),
        (lambda: model.predict(np.array(["a", "b"])), DataError, "numbers"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    from lstmkit.layers import LSTM, Dense, Embedding
    lazy = Sequential([LSTM(4), Dense(1)])
    assert not lazy.built and lazy.predict(X).shape == (len(X), 1) and lazy.built  # built from x, as Keras
    lazy = Sequential([LSTM(4), Dense(1)])
    with pytest.raises(LstmkitError, match="compile"):
        lazy.fit(X, y, verbose=0)
    emb = Sequential([Embedding(10, 3), LSTM(2)])
    emb.compile("adam", "mse")
    with pytest.raises(LstmkitError, match=r"token ids in \[0, 9\]"):
        emb.fit(np.array([[1, 12]]), np.zeros((1, 2)), verbose=0)
    assert issubclass(DataError, ValueError) and issubclass(LstmkitError, ValueError)


def test_nan_loss_stops_training_naming_epoch_and_batch():
    X, y = airline_windows()
    calls = []

    def loss(pred, target):  # turns NaN on the 3rd batch of the 2nd epoch
        calls.append(1)
        value = torch.nn.functional.mse_loss(pred, target.view_as(pred))
        return value * float("nan") if len(calls) == 5 + 3 else value

    model = Model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1)))
    model.compile("sgd", loss)
    with pytest.raises(NonFiniteLoss, match="epoch 2, batch 3") as err:
        model.fit(X, y, epochs=4, batch_size=32, verbose=0)  # 5 batches per epoch
    assert len(err.value.history.history["loss"]) == 1


def test_stateful_fit_and_progress_output(capsys):
    from lstmkit.layers import LSTM, Dense
    lstmkit.set_seed(0)
    X, y = airline_windows()
    model = Sequential([LSTM(4, stateful=True, input_shape=(None, 1)), Dense(1)])
    model.compile("adam", "mse")
    model.fit(X[:128], y[:128], batch_size=32, shuffle=False, epochs=1, verbose=2)
    assert model.layers[0].states is not None
    model.reset_states()
    assert model.layers[0].states is None
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "4/4" in out and "loss:" in out
    with pytest.raises(LstmkitError, match="stateful"):
        model.fit(X[:100], y[:100], batch_size=32, shuffle=False, epochs=1, verbose=0)
    model.reset_states()
    model.fit(X[:64], y[:64], epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_live_progress_bar_redraws_with_eta(monkeypatch):
    import io
    from lstmkit.models import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    bar = progress.Progress(4, 1, file=term)
    assert bar.due()
    bar.update(2, {"loss": 0.5})
    bar.finish(4, {"loss": 0.25, "val_loss": 0.3})
    text = term.getvalue()
    assert "\r2/4 [===============>" in text and "ETA:" in text and "loss: 0.5" in text
    assert text.endswith("val_loss: 0.3\n") and "4/4 [==============================]" in text
    assert not progress.Progress(4, 2, file=term).due()  # verbose=2: no redraws


class Tagger(Model):
    """A Model subclass of lazily built lstmkit layers, with its own forward and config."""

    def __init__(self, vocab=20, units=6):
        from lstmkit.layers import LSTM, Dense, Embedding
        super().__init__()
        self.vocab, self.units = vocab, units
        self.embed, self.lstm, self.out = Embedding(vocab, 4, mask_zero=True), LSTM(units), Dense(1)

    def forward(self, ids):
        return self.out(self.lstm(self.embed(ids), mask=ids != 0))

    def get_config(self):
        return {"vocab": self.vocab, "units": self.units}


def test_model_subclass_builds_lazily_and_saves_with_custom_objects(tmp_path):
    lstmkit.set_seed(0)
    x = np.random.default_rng(0).integers(0, 20, (40, 6))
    model = Tagger()
    assert not model.built
    model.compile("adam", "mse")
    model.fit(x, x[:, :1] / 20.0, epochs=1, verbose=0)
    assert model.built and model.count_params() == 80 + 4 * (6 * 10 + 6) + 7
    model.save(tmp_path / "tagger")
    loaded = load_model(tmp_path / "tagger", custom_objects={"Tagger": Tagger})
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert "lstm (LSTM)" in model.summary(print_fn=None)


def test_weights_only_checkpoint_for_any_module(tmp_path):
    lstmkit.set_seed(0)
    X, y = airline_windows()
    model = Model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1)))
    model.compile("sgd", "mse")
    model.fit(X, y, epochs=2, verbose=0, callbacks=[
        ModelCheckpoint(tmp_path / "w{epoch}.safetensors", save_weights_only=True)])
    fresh = Model(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1)))
    fresh.load_weights(tmp_path / "w2.safetensors")
    np.testing.assert_array_equal(fresh.predict(X), model.predict(X))
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelFileError, match="safetensors"):
        fresh.load_weights(tmp_path / "bad.safetensors")
    with pytest.raises(ModelFileError, match="do not match"):
        Model(torch.nn.Linear(3, 1)).load_weights(tmp_path / "w1.safetensors")


def test_early_stopping_counts_patience_as_keras():
    model = Model(torch.nn.Linear(1, 1))
    stop = EarlyStopping(patience=2, min_delta=0.01)
    stop.set_model(model)
    stop.on_train_begin()
    for epoch, val_loss in enumerate([1.0, 0.5, 0.495, 0.6, 0.4]):
        stop.on_epoch_end(epoch, {"val_loss": val_loss})
        if model.stop_training:
            break
    assert epoch == 3 and stop.best == 0.5  # 0.495 is within min_delta: no gain
    with pytest.warns(UserWarning, match="val_acc"):
        EarlyStopping(monitor="val_acc").on_epoch_end(0, {"loss": 1.0})
