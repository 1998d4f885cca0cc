"""The Keras 3 namespace against Keras itself (torch backend): initializers' statistics and
formulas, regularizer penalties, constraints, activations, schedules, optimizers and utils."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import LstmkitError, constraints, initializers, optimizers, regularizers, utils  # noqa: E402
from lstmkit.layers import LSTM, Conv1D, Dense, Embedding  # noqa: E402


def to_np(t):
    return keras.ops.convert_to_numpy(t)


# ---- initializers ----

SHAPE = (300, 200)
FAN_IN, FAN_OUT = SHAPE


@pytest.mark.parametrize("name,std", [
    ("glorot_uniform", (2 / (FAN_IN + FAN_OUT)) ** 0.5), ("glorot_normal", (2 / (FAN_IN + FAN_OUT)) ** 0.5),
    ("he_uniform", (2 / FAN_IN) ** 0.5), ("he_normal", (2 / FAN_IN) ** 0.5),
    ("lecun_uniform", (1 / FAN_IN) ** 0.5), ("lecun_normal", (1 / FAN_IN) ** 0.5),
    ("random_normal", 0.05), ("random_uniform", 0.1 / 12 ** 0.5), ("truncated_normal", 0.05 * 0.8796),
])
def test_initializer_statistics_match_keras(name, std):
    ours = initializers.get(name)(SHAPE).numpy()
    theirs = to_np(keras.initializers.get(name)(SHAPE))
    for values in (ours, theirs):
        assert abs(values.std() - std) < 0.03 * std and abs(values.mean()) < 0.05 * std
    # the same support (bounds, truncation); a quantile, as Keras' torch backend keeps a rare
    # value beyond the truncation (it redraws 4 times at most)
    assert abs(np.quantile(np.abs(ours), 0.999) - np.quantile(np.abs(theirs), 0.999)) < 0.05 * theirs.max()
    if "normal" in name and name != "random_normal":  # truncated at 2 standard deviations of the normal
        bound = 2 * (std / 0.8796 if name != "truncated_normal" else 0.05)
        assert np.abs(ours).max() <= bound + 1e-6


def test_fans_of_conv_kernels_are_keras():
    assert initializers.compute_fans((3, 4, 5)) == keras.src.initializers.random_initializers.compute_fans((3, 4, 5))
    values = initializers.HeUniform(seed=1)((3, 40, 50)).numpy()
    assert abs(values.max() - (6 / 120) ** 0.5) < 1e-2  # fan_in = 3 * 40


def test_orthogonal_identity_constant_and_seeds():
    q = initializers.Orthogonal(gain=2.0, seed=3)((4, 12)).numpy()  # fewer rows: orthogonal rows
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-5)
    q = initializers.Orthogonal(seed=3)((2, 3, 4)).numpy().reshape(6, 4)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(initializers.Identity(0.5)((2, 3)).numpy(), to_np(keras.initializers.Identity(0.5)((2, 3))))
    a, b = initializers.GlorotNormal(seed=7)((5, 5)), initializers.GlorotNormal(seed=7)((5, 5))
    assert torch.equal(a, b) and not torch.equal(a, initializers.GlorotNormal(seed=8)((5, 5)))
    assert initializers.get("GlorotUniform").get_config() == keras.initializers.GlorotUniform().get_config()
    config = initializers.serialize(initializers.RandomNormal(stddev=0.2, seed=1))
    assert initializers.get(config).get_config() == keras.initializers.RandomNormal(stddev=0.2, seed=1).get_config()


def test_initializers_on_every_layer_in_keras_layout():
    dense = Dense(3, kernel_initializer=initializers.Identity(), input_shape=(3,))
    np.testing.assert_array_equal(dense.get_weights()[0], np.eye(3))
    dense = Dense(4, kernel_initializer=initializers.Constant(0.5), bias_initializer="ones", input_shape=(2,))
    assert (dense.get_weights()[0] == 0.5).all() and (dense.get_weights()[1] == 1).all()
    lstm = LSTM(3, kernel_initializer="ones", recurrent_initializer=initializers.Identity(),
                bias_initializer=initializers.Constant(0.2), input_shape=(None, 2))
    kernel, recurrent, bias = lstm.get_weights()
    assert (kernel == 1).all() and recurrent.shape == (3, 12)
    np.testing.assert_allclose(bias, [0.2] * 3 + [1.0] * 3 + [0.2] * 6)  # unit_forget_bias
    conv = Conv1D(2, 3, kernel_initializer="zeros", input_shape=(None, 4))
    assert conv.get_weights()[0].shape == (3, 4, 2) and not conv.get_weights()[0].any()
    emb = Embedding(10, 4, embeddings_initializer=initializers.Constant(3.0))
    assert (emb.get_weights()[0] == 3).all()
    table = Embedding(3, 6, embeddings_initializer="orthogonal").get_weights()[0]  # Keras' (3, 6): orthonormal rows
    np.testing.assert_allclose(table @ table.T, np.eye(3), atol=1e-5)
    kernel = Dense(50, kernel_initializer=initializers.HeUniform(seed=0), input_shape=(2000,)).get_weights()[0]
    assert abs(np.abs(kernel).max() - (6 / 2000) ** 0.5) < 2e-3  # fan_in is the input size, as in Keras
    with pytest.raises(LstmkitError, match="kernel_initializer: unknown initializer 'nope'"):
        Dense(2, kernel_initializer="nope")


# ---- regularizers and constraints ----

W = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")


@pytest.mark.parametrize("ours,theirs", [
    (regularizers.l1(0.3), keras.regularizers.l1(0.3)), (regularizers.L2(), keras.regularizers.L2()),
    (regularizers.l1_l2(l1=0.1, l2=0.2), keras.regularizers.l1_l2(l1=0.1, l2=0.2)),
    (regularizers.L1L2(), keras.regularizers.L1L2()),
])
def test_regularizer_penalties_equal_keras(ours, theirs):
    np.testing.assert_allclose(float(ours(torch.from_numpy(W))), float(to_np(theirs(W))), rtol=1e-6)
    assert ours.get_config() == pytest.approx(theirs.get_config())


@pytest.mark.parametrize("ours,theirs", [
    (constraints.MaxNorm(1.5), keras.constraints.MaxNorm(1.5)),
    (constraints.MaxNorm(1.0, axis=1), keras.constraints.MaxNorm(1.0, axis=1)),
    (constraints.NonNeg(), keras.constraints.NonNeg()), (constraints.UnitNorm(), keras.constraints.UnitNorm()),
    (constraints.MinMaxNorm(0.5, 1.2, rate=0.7), keras.constraints.MinMaxNorm(0.5, 1.2, rate=0.7)),
])
def test_constraints_equal_keras(ours, theirs):
    np.testing.assert_allclose(ours(torch.from_numpy(W)).numpy(), to_np(theirs(W)), atol=1e-6)


def test_layer_losses_equal_keras_layer_losses():
    x = np.random.default_rng(2).normal(size=(6, 5, 3)).astype("float32")
    args = dict(kernel_regularizer=keras.regularizers.l2(0.01), recurrent_regularizer=keras.regularizers.l1(0.02),
                bias_regularizer=keras.regularizers.l1_l2(0.01, 0.03), activity_regularizer=keras.regularizers.l2(0.1))
    k = keras.layers.LSTM(4, **args)
    k(x)
    ours = LSTM(4, kernel_regularizer="l2", recurrent_regularizer=regularizers.l1(0.02),
                bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.03}},
                activity_regularizer=regularizers.l2(0.1))
    ours(torch.from_numpy(x))
    ours.set_weights(k.get_weights())
    ours.eval()(torch.from_numpy(x))
    want = sorted(float(to_np(v)) for v in k.losses)
    got = sorted(float(v) for v in ours.regularization_losses())
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert len(ours.losses) == 4


def test_apply_constraints_projects_in_keras_layout():
    dense = Dense(3, kernel_constraint=constraints.MaxNorm(0.1), bias_constraint="non_neg", input_shape=(4,))
    with torch.no_grad():
        dense.bias.fill_(-1.0)
    dense.apply_constraints()
    kernel, bias = dense.get_weights()
    assert (np.linalg.norm(kernel, axis=0) <= 0.1 + 1e-6).all() and (bias == 0).all()
    bi = lstmkit.layers.Bidirectional(LSTM(2, kernel_constraint="non_neg"), input_shape=(None, 3))
    bi.apply_constraints()  # reaches both directions
    assert all((w >= 0).all() for w in (bi.get_weights()[0], bi.get_weights()[3]))


# ---- activations ----

@pytest.mark.parametrize("name", sorted(lstmkit.activations.ACTIVATIONS))
def test_activations_equal_keras(name):
    x = np.linspace(-5, 5, 40).astype("float32").reshape(1, 40)
    ours = lstmkit.activations.get(name)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, to_np(keras.activations.get(name)(x)), atol=1e-6)


def test_relu_options_equal_keras():
    x = np.linspace(-3, 3, 25).astype("float32")
    for kw in ({"negative_slope": 0.1}, {"max_value": 1.0}, {"threshold": 0.5, "negative_slope": 0.2, "max_value": 2.0}):
        np.testing.assert_allclose(lstmkit.activations.relu(torch.from_numpy(x), **kw).numpy(),
                                   to_np(keras.activations.relu(x, **kw)), atol=1e-6)


# ---- schedules and optimizers ----

S = optimizers.schedules
KS = keras.optimizers.schedules


@pytest.mark.parametrize("ours,theirs", [
    (S.ExponentialDecay(0.1, 10, 0.5), KS.ExponentialDecay(0.1, 10, 0.5)),
    (S.ExponentialDecay(0.1, 10, 0.5, staircase=True), KS.ExponentialDecay(0.1, 10, 0.5, staircase=True)),
    (S.InverseTimeDecay(0.1, 5, 0.3), KS.InverseTimeDecay(0.1, 5, 0.3)),
    (S.InverseTimeDecay(0.1, 5, 0.3, staircase=True), KS.InverseTimeDecay(0.1, 5, 0.3, staircase=True)),
    (S.PiecewiseConstantDecay([5, 12], [1.0, 0.5, 0.1]), KS.PiecewiseConstantDecay([5, 12], [1.0, 0.5, 0.1])),
    (S.PolynomialDecay(0.1, 20, 0.01, power=2.0), KS.PolynomialDecay(0.1, 20, 0.01, power=2.0)),
    (S.PolynomialDecay(0.1, 8, cycle=True), KS.PolynomialDecay(0.1, 8, cycle=True)),
    (S.CosineDecay(0.1, 20, alpha=0.1), KS.CosineDecay(0.1, 20, alpha=0.1)),
    (S.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=5), KS.CosineDecay(0.0, 20, warmup_target=0.2, warmup_steps=5)),
])
def test_schedules_equal_keras(ours, theirs):
    for step in (0, 1, 4, 5, 6, 11, 12, 13, 19, 20, 24, 25, 40):
        np.testing.assert_allclose(ours(step), float(to_np(theirs(step))), rtol=1e-6, atol=1e-9)
    assert ours.get_config() == theirs.get_config()


def _quadratic_run(ours_opt, keras_opt, steps=5):
    """Minimise sum((w - 1)²) from the same start in both; returns the two final weights."""
    w0 = np.array([[0.5, -2.0, 3.0]], dtype="float32")
    w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = ours_opt.build([w])
    kv = keras.Variable(w0.copy())
    for _ in range(steps):
        opt.zero_grad()
        ((w - 1) ** 2).sum().backward()
        opt.step()
        keras_opt.apply([2 * (keras.ops.convert_to_tensor(kv) - 1)], [kv])
    return w.detach().numpy(), to_np(kv)


@pytest.mark.parametrize("name,kw", [
    ("SGD", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}), ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adam", {"learning_rate": 0.1}),
    ("AdamW", {"learning_rate": 0.1}), ("Adam", {"learning_rate": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"learning_rate": 0.1}), ("Adadelta", {"learning_rate": 1.0}), ("Adamax", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.2, "clipnorm": 1.0}),
    ("SGD", {"learning_rate": 0.2, "clipvalue": 0.5}), ("SGD", {"learning_rate": 0.2, "global_clipnorm": 1.0}),
])
def test_optimizer_updates_follow_keras(name, kw):
    ours, theirs = _quadratic_run(getattr(optimizers, name)(**kw), getattr(keras.optimizers, name)(**kw))
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


def test_schedule_is_applied_per_step_and_saved_with_the_state():
    sched = S.ExponentialDecay(1.0, 1, 0.5)
    ours, theirs = _quadratic_run(optimizers.SGD(sched), keras.optimizers.SGD(KS.ExponentialDecay(1.0, 1, 0.5)), 4)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    w = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.SGD(sched).build([w])
    for _ in range(3):
        w.grad = torch.ones(2)
        opt.step()
    again = optimizers.SGD(sched).build([w])
    again.load_state_dict(opt.state_dict())
    w.grad = torch.ones(2)
    again.step()
    assert again.param_groups[0]["iterations"] == 4 and again.param_groups[0]["lr"] == 0.125


def test_optimizers_by_name_and_bad_arguments():
    for name in ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"):
        assert isinstance(optimizers.get(name), optimizers.Optimizer)
    assert optimizers.Adam().options["eps"] == 1e-7 and optimizers.RMSprop().options["alpha"] == 0.9
    with pytest.raises(LstmkitError, match="clipnorm, global_clipnorm"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(LstmkitError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")


# ---- utils ----

def test_pad_sequences_equals_keras():
    seqs = [[1, 2, 3, 4], [5], [], [6, 7]]
    for kw in ({}, {"maxlen": 3}, {"padding": "post", "truncating": "post", "maxlen": 2, "value": -1},
               {"dtype": "float32", "value": 0.5}):
        np.testing.assert_array_equal(utils.pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw))
    vectors = [np.ones((2, 3)), np.zeros((1, 3))]
    np.testing.assert_array_equal(utils.pad_sequences(vectors, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, dtype="float32"))
    with pytest.raises(LstmkitError, match="padding: expected 'pre' or 'post'"):
        utils.pad_sequences(seqs, padding="left")


def test_to_categorical_and_normalize_equal_keras():
    for x in ([0, 2, 1], [[1], [3]], np.array([[0, 1], [2, 0]])):
        np.testing.assert_array_equal(utils.to_categorical(x), keras.utils.to_categorical(x))
    np.testing.assert_array_equal(utils.to_categorical([1], num_classes=4), keras.utils.to_categorical([1], num_classes=4))
    x = np.random.default_rng(3).normal(size=(4, 3))
    np.testing.assert_allclose(utils.normalize(x), keras.utils.normalize(x), rtol=1e-6)


def test_timeseries_dataset_follows_keras_definition():
    data, targets = np.arange(100), np.arange(100) * 10
    ds = utils.timeseries_dataset_from_array(data, targets, sequence_length=10, sequence_stride=3,
                                             sampling_rate=2, batch_size=4, start_index=5, end_index=60)
    xs, ys = zip(*ds)
    x, y = torch.cat(xs).numpy(), torch.cat(ys).numpy()
    starts = 5 + np.arange(0, 60 - 5 - 9 * 2, 3)  # Keras: start_index + i * stride while the window fits
    np.testing.assert_array_equal(x, starts[:, None] + np.arange(10) * 2)
    np.testing.assert_array_equal(y, targets[starts])
    assert len(ds) == len(xs) == -(-len(starts) // 4) and xs[0].shape == (4, 10)
    shuffled = utils.timeseries_dataset_from_array(data, None, 5, batch_size=8, shuffle=True, seed=1)
    first = torch.cat(list(shuffled)).numpy()
    assert sorted(first[:, 0].tolist()) == list(range(96)) and first[:, 0].tolist() != list(range(96))
    float_ds = utils.timeseries_dataset_from_array(np.zeros((30, 2)), None, 4, batch_size=None)
    assert next(iter(float_ds)).dtype == torch.float32 and len(float_ds.take(2)) == 2


def test_split_dataset_and_seed_and_get_file():
    x, y = np.arange(10), np.arange(10) * 2
    (lx, ly), (rx, ry) = utils.split_dataset((x, y), left_size=0.8)
    assert len(lx) == 8 and len(rx) == 2 and (ly == lx * 2).all()
    left, right = utils.split_dataset(x, right_size=3, shuffle=True, seed=0)
    assert sorted(np.concatenate([left, right]).tolist()) == list(range(10)) and len(right) == 3
    utils.set_random_seed(5)
    a = torch.rand(3)
    utils.set_random_seed(5)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(LstmkitError, match="get_file: lstmkit does not download"):
        utils.get_file("imdb.npz", origin="https://example.org/imdb.npz")


def test_keras_namespace_at_top_level():
    import lstmkit as k
    model = k.Sequential([k.Input(shape=(None, 2)), k.layers.LSTM(3), k.layers.RepeatVector(4),
                          k.layers.LSTM(2, return_sequences=True)])
    assert model(torch.zeros(5, 6, 2)).shape == (5, 4, 2)
    assert k.Input(batch_shape=(8, 10, 3)).shape == (8, 10, 3) and k.Input((4,), dtype="int64").dtype == "int64"
    for mod in ("layers", "models", "callbacks", "optimizers", "losses", "metrics", "activations",
                "initializers", "regularizers", "constraints", "utils"):
        assert hasattr(k, mod)
    assert k.callbacks.EarlyStopping and k.losses.MeanSquaredError and k.metrics.Accuracy
    with pytest.raises(LstmkitError, match="shape, batch_shape"):
        k.Input()


# ---- losses and metrics ----

YT = np.abs(np.random.default_rng(5).normal(size=(6, 3))).astype("float32") + 0.1
YP = np.abs(np.random.default_rng(6).normal(size=(6, 3))).astype("float32") + 0.1


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "mape", "msle", "log_cosh", "kl_divergence"])
def test_losses_equal_keras(name):
    yt, yp = YT / YT.sum(-1, keepdims=True), YP / YP.sum(-1, keepdims=True)  # valid distributions too
    ours = lstmkit.losses.LOSSES[name]()(torch.from_numpy(yt), torch.from_numpy(yp))  # Keras' (y_true, y_pred)
    theirs = keras.losses.get(name)(yt, yp)
    np.testing.assert_allclose(float(ours), float(to_np(keras.ops.mean(theirs))), rtol=1e-5)


def test_accuracy_metrics_by_keras_name():
    yp = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert lstmkit.metrics.get("sparse_categorical_accuracy").batch(yp, torch.tensor([1, 1, 1])).item() == pytest.approx(2 / 3)
    assert lstmkit.metrics.get("categorical_accuracy").batch(yp, torch.eye(2)[[1, 0, 0]]).item() == pytest.approx(2 / 3)
    assert lstmkit.metrics.BinaryAccuracy(threshold=0.75).batch(torch.tensor([0.8, 0.7]), torch.tensor([1.0, 1.0])).item() == 0.5
    np.testing.assert_allclose(lstmkit.metrics.get("mape").batch(torch.from_numpy(YP), torch.from_numpy(YT)).item(),
                               float(to_np(keras.ops.mean(keras.losses.get("mape")(YT, YP)))), rtol=1e-5)


def test_fit_evaluate_predict_take_a_timeseries_dataset():
    lstmkit.set_seed(0)
    series = np.sin(np.arange(400) * 0.2).astype("float32")[:, None]
    train = utils.timeseries_dataset_from_array(series[:-8], series[8:, 0], sequence_length=8, batch_size=32,
                                                shuffle=True, seed=0, end_index=300)
    model = lstmkit.Sequential([lstmkit.Input((8, 1)), lstmkit.layers.LSTM(8), lstmkit.layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="mse")
    history = model.fit(train, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    test = utils.timeseries_dataset_from_array(series[:-8], series[8:, 0], 8, batch_size=64, start_index=300)
    assert model.evaluate(test, verbose=0) < 0.05


def test_keras_call_and_constructor_conveniences():
    dense = Dense(3, input_dim=4)
    assert dense.get_weights()[0].shape == (4, 3)
    assert dense(torch.ones(2, 4), training=True).shape == (2, 3)  # training= reaches every layer
    drop = lstmkit.layers.Dropout(0.5, noise_shape=(None, 1, None), seed=0)
    y = drop(torch.ones(8, 5, 3), training=True)
    assert torch.equal(y, y[:, :1].expand_as(y)) and not drop(torch.ones(2, 3), training=False).eq(0).any()
    with pytest.raises(LstmkitError, match="input_dim, input_shape"):
        Dense(3, input_dim=4, input_shape=(4,))


def test_backend_calls_and_input_layer():
    import lstmkit as k
    k.backend.clear_session()
    assert k.backend.floatx() == "float32" and k.backend.epsilon() == keras.backend.epsilon()
    with pytest.raises(LstmkitError, match="set_floatx"):
        k.backend.set_floatx("float16")
    model = k.Sequential([k.layers.InputLayer(input_shape=(6, 2)), k.layers.LSTM(3)])
    assert model(torch.zeros(4, 6, 2)).shape == (4, 3) and model.input_shape == (6, 2)


def test_optimizer_learning_rate_is_readable_and_settable_after_compile_as_in_keras():
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    opt = optimizers.SGD(learning_rate=0.01)
    model = lstmkit.Sequential([lstmkit.Input((3,)), Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.01) and model.optimizer.iterations == 1
    model.optimizer.learning_rate = 0.0  # a Keras callback's way of changing it
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    opt.learning_rate = 0.5  # or on the Keras optimizer object itself
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.learning_rate == pytest.approx(0.5)
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
