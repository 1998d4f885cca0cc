"""Losses and metrics called as Keras calls them, (y_true, y_pred), checked against Keras 3."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import LstmkitError  # noqa: E402

RNG = np.random.default_rng(3)
PROBS = RNG.uniform(0.05, 0.95, size=(5, 4)).astype("float32")
ONES_ZEROS = (RNG.random((5, 4)) > 0.5).astype("float32")
SOFT = (PROBS / PROBS.sum(-1, keepdims=True)).astype("float32")
ONE_HOT = np.eye(4, dtype="float32")[[0, 3, 1, 1, 2]]
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5, 1.0], dtype="float32")


def to_np(t):
    return keras.ops.convert_to_numpy(t)


def t(a):
    return torch.from_numpy(np.asarray(a))


# asymmetric losses: swapping y_true and y_pred changes their value
CASES = [("BinaryCrossentropy", {}, ONES_ZEROS, PROBS),
         ("BinaryCrossentropy", {"label_smoothing": 0.2}, ONES_ZEROS, PROBS),
         ("CategoricalCrossentropy", {}, ONE_HOT, SOFT),
         ("CategoricalCrossentropy", {"label_smoothing": 0.1}, ONE_HOT, SOFT),
         ("KLDivergence", {}, SOFT[::-1].copy(), SOFT),
         ("MeanAbsolutePercentageError", {}, PROBS[::-1].copy(), PROBS),
         ("MeanSquaredLogarithmicError", {}, PROBS[::-1].copy() * 3, PROBS)]


@pytest.mark.parametrize("cls,kwargs,y_true,y_pred", CASES)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_loss_objects_take_keras_order_and_reductions(cls, kwargs, y_true, y_pred, reduction):
    ours = getattr(lstmkit.losses, cls)(reduction=reduction, **kwargs)(t(y_true), t(y_pred))
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)(y_true, y_pred)
    np.testing.assert_allclose(ours.numpy(), to_np(theirs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum", "none", "mean_with_sample_weight"])
def test_sample_weight_with_keras_reductions(reduction):
    kw = {"reduction": reduction}
    ours = lstmkit.losses.BinaryCrossentropy(**kw)(t(ONES_ZEROS), t(PROBS), sample_weight=t(WEIGHTS))
    theirs = keras.losses.BinaryCrossentropy(**kw)(ONES_ZEROS, PROBS, sample_weight=WEIGHTS)
    np.testing.assert_allclose(ours.numpy(), to_np(theirs), rtol=1e-5)


def test_sparse_categorical_crossentropy_keras_order():
    ids = np.array([0, 3, 1, 1, 2])
    ours = lstmkit.losses.SparseCategoricalCrossentropy()(t(ids), t(SOFT))
    theirs = keras.losses.SparseCategoricalCrossentropy()(ids, SOFT)
    np.testing.assert_allclose(float(ours), float(to_np(theirs)), rtol=1e-5)
    with pytest.raises(LstmkitError, match="ignore_class"):
        lstmkit.losses.SparseCategoricalCrossentropy(ignore_class=0)


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                                  "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence",
                                  "binary_crossentropy", "categorical_crossentropy"])
def test_loss_functions_give_keras_per_sample_values(name):
    y_true = ONE_HOT if "categorical" in name else (SOFT[::-1].copy() if name == "kl_divergence" else ONES_ZEROS)
    ours = getattr(lstmkit.losses, name)(t(y_true), t(SOFT))
    theirs = getattr(keras.losses, name)(y_true, SOFT)
    assert tuple(ours.shape) == (5,)
    np.testing.assert_allclose(ours.numpy(), to_np(theirs), rtol=1e-5, atol=1e-6)


def zero_dense_model(activation=None):
    """Predicts activation(0) for every input."""
    return lstmkit.Sequential([lstmkit.Input((2,)),
                               lstmkit.layers.Dense(1, activation=activation, kernel_initializer="zeros")])


def under_prediction(y_true, y_pred):  # per-sample, and 0 if the arguments were swapped here
    return torch.relu(y_true - y_pred).mean(-1)


def test_compile_calls_a_custom_loss_and_metric_in_keras_order():
    x, y = np.ones((6, 2), "float32"), np.full((6, 1), 2.0, "float32")
    model = zero_dense_model()
    model.compile(optimizer="sgd", loss=under_prediction, metrics=[under_prediction, "mae"])
    loss, under, mae = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(2.0) and under == pytest.approx(2.0) and mae == pytest.approx(2.0)
    history = model.fit(x, y, epochs=1, batch_size=3, verbose=0)  # per-sample values reduce to a scalar
    assert set(history.history) == {"loss", "under_prediction", "mae"}


def test_compile_takes_loss_objects_classes_and_torch_losses():
    x, y = np.ones((4, 2), "float32"), np.array([[1.0], [0.0], [1.0], [1.0]], "float32")
    expected = float(to_np(keras.losses.BinaryCrossentropy()(y, np.full((4, 1), 0.5, "float32"))))
    for loss in (lstmkit.losses.BinaryCrossentropy(), lstmkit.losses.BinaryCrossentropy, "binary_crossentropy"):
        model = zero_dense_model("sigmoid")
        model.compile(optimizer="sgd", loss=loss)
        assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)
    model = zero_dense_model()
    model.compile(optimizer="sgd", loss=torch.nn.MSELoss())  # torch's own (input, target) order
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.75)
    obj = lstmkit.losses.BinaryCrossentropy()
    model.compile(optimizer="sgd", loss=obj)
    assert float(obj(t(y), t(np.full((4, 1), 0.5, "float32")))) == pytest.approx(expected, rel=1e-5)


def test_keras_style_loss_subclass_with_call():
    class Under(lstmkit.losses.Loss):
        def call(self, y_true, y_pred):
            return torch.relu(y_true - y_pred).mean(-1)

    loss = Under(name="under")
    assert float(loss(torch.full((3, 1), 2.0), torch.zeros(3, 1))) == pytest.approx(2.0)
    model = zero_dense_model()
    model.compile(optimizer="sgd", loss=loss)
    assert model.evaluate(np.ones((3, 2), "float32"), np.full((3, 1), 2.0, "float32"), verbose=0) == pytest.approx(2.0)


def test_metric_names_and_stateful_api_as_keras():
    y_pred = PROBS
    for cls in ("MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
                "BinaryAccuracy", "CategoricalAccuracy"):
        y_true = {"BinaryAccuracy": ONES_ZEROS, "CategoricalAccuracy": ONE_HOT}.get(cls, PROBS[::-1].copy())
        ours, theirs = getattr(lstmkit.metrics, cls)(), getattr(keras.metrics, cls)()
        assert ours.name == theirs.name
        for half in (slice(0, 2), slice(2, 5)):
            ours.update_state(t(y_true[half]), t(y_pred[half]))
            theirs.update_state(y_true[half], y_pred[half])
        np.testing.assert_allclose(float(ours.result()), float(to_np(theirs.result())), rtol=1e-5)
        ours.reset_state()
        assert float(ours.result()) == 0.0
    assert lstmkit.metrics.BinaryAccuracy(name="acc", threshold=0.7).name == "acc"


def test_metrics_by_loss_name_and_renamed_loss_keep_accuracy_kind():
    x, y = np.ones((4, 2), "float32"), np.array([[1.0], [0.0], [1.0], [1.0]], "float32")
    model = zero_dense_model("sigmoid")
    model.compile(optimizer="sgd", loss=lstmkit.losses.BinaryCrossentropy(name="bce"),
                  metrics=["binary_crossentropy", "accuracy"])
    loss, bce, acc = model.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(0.25)  # binary accuracy (0.5 is class 0), chosen although renamed
    assert bce == pytest.approx(float(to_np(keras.ops.mean(keras.losses.binary_crossentropy(
        y, np.full((4, 1), 0.5, "float32"))))), rel=1e-5)
    with pytest.raises(LstmkitError, match="unknown metric"):
        lstmkit.metrics.get("no_such_metric")


def test_a_callable_marked_y_pred_first_is_called_in_that_order():
    class Under:
        y_pred_first = True

        def __call__(self, y_pred, y_true):
            return torch.relu(y_true - y_pred).mean()

    model = zero_dense_model()
    model.compile(optimizer="sgd", loss=Under())
    assert model.evaluate(np.ones((3, 2), "float32"), np.full((3, 1), 2.0, "float32"), verbose=0) == pytest.approx(2.0)


def test_builtin_losses_take_keras_positional_order():
    loss = lstmkit.losses.MeanSquaredError("sum", "my_mse")  # Keras: (reduction, name, dtype)
    assert loss.name == "my_mse" and loss.reduction == "sum"
    assert float(loss(torch.zeros(2, 1), torch.ones(2, 1))) == pytest.approx(2.0)
    with pytest.raises(LstmkitError, match="reduction"):
        lstmkit.losses.MeanAbsoluteError(reduction="average")


def test_class_names_as_strings_as_keras():
    assert isinstance(lstmkit.losses.get("MeanSquaredError"), lstmkit.losses.MeanSquaredError)
    assert lstmkit.metrics.get("RootMeanSquaredError").name == "root_mean_squared_error"
    with pytest.raises(LstmkitError, match="unknown name 'MeanSquare'"):
        lstmkit.losses.get("MeanSquare")
