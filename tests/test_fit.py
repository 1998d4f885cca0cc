"""fit / evaluate / predict as Keras: datasets and generators, steps, sample and class weights, the
*_on_batch methods, callbacks, the regularization protocol, and one-line errors for bad arguments."""
import io
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.errors import LstmkitError
from lstmkit.layers import LSTM, Dense, Input, Layer
from lstmkit.models import (LearningRateScheduler, NonFiniteLoss, ProgbarLogger, Sequential,
                            TerminateOnNaN)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 5, 2)).astype("float32")
Y = X.sum(axis=(1, 2))[:, None]


def small(loss="mse", units=1, activation=None):
    lstmkit.set_seed(0)
    model = Sequential([Input((5, 2)), LSTM(4), Dense(units, activation=activation)])
    model.compile("adam", loss)
    return model


def test_bad_fit_arguments_and_targets_are_one_line_errors():
    model = small()
    for kwargs, match in (({"epochs": 0}, "epochs: expected an int >= 1, got 0"),
                          ({"epochs": "3"}, "epochs: expected an int"),
                          ({"batch_size": 0}, "batch_size: expected a positive int"),
                          ({"steps_per_epoch": 0}, "steps_per_epoch: expected a positive int"),
                          ({"verbose": 5}, "verbose: expected 0, 1, 2")):
        with pytest.raises(LstmkitError, match=match):
            model.fit(X, Y, **{"verbose": 0, **kwargs})
    for y, shown in ((np.zeros((40, 2)), r"\(batch, 2\)"), (np.zeros((40, 1, 1)), r"\(batch, 1, 1\)")):
        with pytest.raises(LstmkitError, match=r"y: expected targets of shape \(batch, 1\).*got " + shown):
            model.fit(X, y, verbose=0)
    with pytest.raises(LstmkitError, match="at least one time step"):
        model.fit(np.zeros((4, 0, 2)), np.zeros((4, 1)), verbose=0)
    bce = small("binary_crossentropy", activation="sigmoid")
    with pytest.raises(LstmkitError, match=r"binary_crossentropy needs targets in \[0, 1\]"):
        bce.fit(X, Y, verbose=0)
    with pytest.raises(LstmkitError, match="sample_weight: expected one weight per sample"):
        model.fit(X, Y, sample_weight=np.ones((40, 2)), verbose=0)


def test_generators_datasets_and_steps():
    model = small()

    def forever():
        while True:
            yield X[:8], Y[:8]
    history = model.fit(forever(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    finite = ((X[k:k + 10], Y[k:k + 10]) for k in range(0, 40, 10))  # 4 batches, once
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(finite, steps_per_epoch=3, epochs=5, verbose=0)
    assert len(history.history["loss"]) == 2  # as Keras: the second epoch's one batch counts, then it stops
    batches = [(X[k:k + 10], Y[k:k + 10], np.ones(10)) for k in range(0, 40, 10)]

    class Windows:  # re-iterable, like timeseries_dataset_from_array's result
        def __iter__(self):
            return iter(batches)
    history = model.fit(Windows(), epochs=2, validation_data=Windows(), validation_steps=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert model.evaluate(Windows(), verbose=0) == pytest.approx(model.evaluate(X, Y, verbose=0), rel=1e-5)
    np.testing.assert_allclose(model.predict(Windows(), verbose=0), model.predict(X, verbose=0), atol=1e-6)
    assert model.predict(X, steps=2, batch_size=8, verbose=0).shape == (16, 1)
    assert len(model.fit(X, Y, steps_per_epoch=3, batch_size=16, epochs=2, verbose=0).history["loss"]) == 2


def test_weights_on_batch_methods_and_return_dict():
    model = small()
    plain = model.evaluate(X, Y, verbose=0)
    assert model.evaluate(X, Y, sample_weight=np.full(40, 3.0), verbose=0) == pytest.approx(3 * plain, rel=1e-5)
    model.compile("adam", "mse", metrics=["mae"])
    logs = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"} and logs["loss"] == pytest.approx(plain, rel=1e-5)
    before = model.test_on_batch(X, Y, return_dict=True)
    for _ in range(30):
        loss, mae = model.train_on_batch(X, Y)
    assert model.test_on_batch(X, Y)[0] < before["loss"]
    np.testing.assert_allclose(model.predict_on_batch(X), model.predict(X, verbose=0), atol=1e-6)


def test_terminate_on_nan_learning_rate_schedule_and_progbar():
    model = small()
    bad = Y.copy()
    bad[5] = 1e30  # the squared error overflows to inf
    with pytest.raises(NonFiniteLoss):
        model.fit(X, bad, epochs=2, verbose=0)
    history = model.fit(X, bad, epochs=2, verbose=0, callbacks=[TerminateOnNaN()])
    assert history.history == {}
    seen = []
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    seen = model.history.history["learning_rate"]
    assert seen == pytest.approx([0.1, 0.05, 0.1 / 3])
    out = io.StringIO()
    with redirect_stdout(out):
        model.fit(X, Y, epochs=2, batch_size=20, verbose=0, callbacks=[ProgbarLogger()])
    assert "Epoch 2/2" in out.getvalue() and "2/2" in out.getvalue() and "loss:" in out.getvalue()


class Penalised(Layer):
    """A layer on the regularization protocol: a penalty on its weight and a constraint after steps."""

    def __init__(self):
        super().__init__()
        self.w, self.built, self.constrained = torch.nn.Parameter(torch.tensor([2.0])), True, 0

    def forward(self, x, mask=None):
        return x * self.w

    def regularization_losses(self):
        return [0.5 * self.w.square().sum()]

    def apply_constraints(self):
        self.constrained += 1
        with torch.no_grad():
            self.w.clamp_(max=10.0)


def test_regularization_penalties_join_the_loss_and_constraints_run_after_each_step():
    lstmkit.set_seed(1)
    layer = Penalised()
    model = Sequential([Input((2,)), layer, Dense(1, kernel_initializer="ones", use_bias=False)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 2), dtype="float32"), np.full((8, 1), 4.0, dtype="float32")
    assert [float(p) for p in model.losses] == [2.0]
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.0 + 2.0)  # mse 0 at w = 2, plus 0.5 * w^2
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert layer.constrained == 6 and float(layer.w) < 2.0  # the penalty pulls w down


def test_direct_calls_after_fit_are_inference_and_training_flag_sets_one_call():
    """Keras: model(x) after fit runs without dropout; model(x, training=True) runs one call in training mode."""
    import lstmkit as keras
    torch.manual_seed(0)
    model = keras.Sequential([keras.Input(shape=(5, 2)), keras.layers.LSTM(4), keras.layers.Dropout(0.9),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = torch.rand(16, 5, 2)
    model.fit(x.numpy(), torch.rand(16, 1).numpy(), epochs=1, verbose=0)
    first = model(x)
    assert torch.equal(first, model(x)) and torch.equal(first, model(x, training=False))
    assert not torch.equal(first, model(x, training=True))
    assert not model.training
