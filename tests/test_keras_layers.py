"""lstmkit's Keras layers against Keras 3 itself (torch backend): the same weights give the same
outputs (1e-5), masks included, and Keras' own LSTM test values (constant initializers)."""
import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import layers as L  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 7, 4)).astype("float32")  # (B, T, C)
Q = RNG.normal(size=(3, 5, 4)).astype("float32")  # a query of another length
V2 = RNG.normal(size=(3, 4)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]], bool)
QMASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 1]], bool)


def to_np(t):
    return keras.ops.convert_to_numpy(t) if not isinstance(t, torch.Tensor) else t.detach().numpy()


def to_torch(v):
    if isinstance(v, (list, tuple)):
        return [to_torch(u) for u in v]
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def call(layer, inputs, style, kwargs):
    if style == "list":
        return layer(list(inputs), **kwargs)
    if style == "args":
        return layer(*inputs, **kwargs)
    return layer(inputs[0], **kwargs)


# (class name, constructor kwargs, inputs, call style, call kwargs)
CASES = [
    ("Dense", dict(units=3, activation="tanh"), [X], "one", {}),
    ("RepeatVector", dict(n=3), [V2], "one", {}),
    ("Conv1D", dict(filters=5, kernel_size=3), [X], "one", {}),
    ("Conv1D", dict(filters=5, kernel_size=3, padding="same", strides=2, activation="relu"), [X], "one", {}),
    ("Conv1D", dict(filters=4, kernel_size=2, padding="causal", dilation_rate=2), [X], "one", {}),
    ("Conv1D", dict(filters=6, kernel_size=3, padding="same", groups=2, use_bias=False), [X], "one", {}),
    ("MaxPooling1D", dict(pool_size=2), [X], "one", {}),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), [X], "one", {}),
    ("AveragePooling1D", dict(pool_size=2, strides=1), [X], "one", {}),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"), [X], "one", {}),
    ("GlobalAveragePooling1D", {}, [X], "one", {}),
    ("GlobalAveragePooling1D", dict(keepdims=True), [X], "one", {"mask": MASK}),
    ("GlobalMaxPooling1D", {}, [X], "one", {}),
    ("Flatten", {}, [X], "one", {}),
    ("Reshape", dict(target_shape=(-1, 2)), [X], "one", {}),
    ("Permute", dict(dims=(2, 1)), [X], "one", {}),
    ("LayerNormalization", {}, [X], "one", {}),
    ("LayerNormalization", dict(epsilon=1e-5, center=False), [X], "one", {}),
    ("BatchNormalization", {}, [X], "one", {}),
    ("BatchNormalization", dict(momentum=0.9), [X], "one", {"training": True}),
    ("BatchNormalization", {}, [X], "one", {"training": True, "mask": MASK}),
    ("SpatialDropout1D", dict(rate=0.5), [X], "one", {}),
    ("GaussianNoise", dict(stddev=0.3), [X], "one", {}),
    ("Attention", {}, [Q, X], "list", {}),
    ("Attention", dict(use_scale=True), [Q, X, X[..., ::-1].copy()], "list", {"mask": [QMASK, MASK]}),
    ("Attention", dict(score_mode="concat"), [X, X], "list", {"use_causal_mask": True}),
    ("Attention", dict(score_mode="concat", use_scale=True), [Q, X], "list", {"mask": [None, MASK]}),
    ("AdditiveAttention", {}, [Q, X], "list", {"mask": [QMASK, MASK]}),
    ("AdditiveAttention", dict(use_scale=False), [X, X], "list", {"use_causal_mask": True}),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=3), [Q, X], "args", {}),
    ("MultiHeadAttention", dict(num_heads=3, key_dim=2, value_dim=4, output_shape=6), [X, X], "args",
     {"use_causal_mask": True, "query_mask": MASK}),
    ("MultiHeadAttention", dict(num_heads=2, key_dim=4, use_bias=False), [Q, X], "args", {"value_mask": MASK}),
    ("Multiply", {}, [X, X[::-1].copy(), X + 1], "list", {}),
    ("Average", {}, [X, X[::-1].copy()], "list", {}),
    ("Subtract", {}, [X, X[::-1].copy()], "list", {}),
    ("Dot", dict(axes=2), [Q, X], "list", {}),
    ("Dot", dict(axes=(1, 1), normalize=True), [X, X[::-1].copy()], "list", {}),
    ("Dot", dict(axes=1), [V2, V2[::-1].copy()], "list", {}),
    ("LeakyReLU", {}, [X], "one", {}),
    ("LeakyReLU", dict(negative_slope=0.1), [X], "one", {}),
    ("ReLU", dict(max_value=1.0, negative_slope=0.2, threshold=0.3), [X], "one", {}),
    ("Softmax", {}, [X], "one", {"mask": np.broadcast_to(np.array([1, 0, 1, 1], bool), X.shape).copy()}),
    ("Softmax", dict(axis=1), [X], "one", {}),
]


def _random_weights(klayer):
    """Random weights in Keras' shapes (moving variances positive), set into the Keras layer."""
    ws = [RNG.normal(size=w.shape).astype("float32") * 0.5 for w in klayer.get_weights()]
    if "moving_variance" in " ".join(w.path for w in klayer.weights):
        ws[-1] = np.abs(ws[-1]) + 0.5
    klayer.set_weights(ws)
    return ws


@pytest.mark.parametrize("name,kwargs,inputs,style,call_kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_keras(name, kwargs, inputs, style, call_kwargs):
    klayer = getattr(keras.layers, name)(**kwargs)
    call(klayer, inputs, style, {})  # build
    ws = _random_weights(klayer)
    ours = getattr(L, name)(**kwargs)
    ours.eval()
    call(ours, [torch.from_numpy(x) for x in inputs], style, {})  # build
    ours.set_weights(ws)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in ws]
    ours.train(bool(call_kwargs.get("training")))
    kwanted = to_np(call(klayer, inputs, style, call_kwargs))
    got = call(ours, [torch.from_numpy(x) for x in inputs], style,
               {k: to_torch(v) for k, v in call_kwargs.items() if k != "training"})
    got = got.detach().numpy()
    if "query_mask" in call_kwargs:  # a query step with no key to attend to: Keras leaves its value unspecified
        got, kwanted = got[call_kwargs["query_mask"]], kwanted[call_kwargs["query_mask"]]
    np.testing.assert_allclose(got, kwanted, atol=1e-5, rtol=1e-5)
    if call_kwargs.get("training"):  # the moving statistics moved the same way
        for a, b in zip(ours.get_weights(), klayer.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_noise_layers_act_only_while_training():
    x = torch.ones(64, 5, 32)
    drop = L.SpatialDropout1D(0.5, seed=1).train()
    y = drop(x)
    per_channel = y[:, :1, :]  # whole channels: one value per (sample, channel), repeated in time
    assert torch.equal(y, per_channel.expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert 0.4 < (y == 0).float().mean().item() < 0.6
    noisy = L.GaussianNoise(0.5, seed=1).train()(torch.zeros(20000))
    assert abs(noisy.std().item() - 0.5) < 0.02 and abs(noisy.mean().item()) < 0.02


def test_mha_in_a_functional_model_matches_eager():
    inp = lstmkit.Input(shape=(7, 4))
    mha = L.MultiHeadAttention(2, 3)
    out = mha(inp, inp)
    model = lstmkit.Model(inp, out)
    x = torch.from_numpy(X)
    model.eval()
    torch.testing.assert_close(model(x), mha(x, x))


# ---- LSTM: Keras' own test values (keras/src/layers/rnn/lstm_test.py), constant initializers ----

CONST = dict(kernel_initializer=lstmkit.initializers.Constant(0.01),
             recurrent_initializer=lstmkit.initializers.Constant(0.02),
             bias_initializer=lstmkit.initializers.Constant(0.03))
SEQ = np.arange(72).reshape((3, 6, 4)).astype("float32")
SEQ24 = np.arange(24).reshape((2, 4, 3)).astype("float32")


@pytest.mark.parametrize("options,expected", [
    ({}, [0.6288687, 0.86899155, 0.9460773]),
    ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    ({"unroll": True, "implementation": 1}, [0.6288687, 0.86899155, 0.9460773]),
    ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
    ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
])
def test_lstm_keras_correctness_values(options, expected):
    out = L.LSTM(3, **CONST, **options)(torch.from_numpy(SEQ))
    np.testing.assert_allclose(out.detach().numpy(), np.repeat(np.array(expected)[:, None], 3, 1), atol=1e-5)


def test_lstm_keras_stateful_values():
    layer = L.LSTM(4, stateful=True, **CONST)
    seq = torch.from_numpy(np.arange(24).reshape((2, 3, 4)).astype("float32"))
    expected = np.repeat(np.array([0.3124785, 0.6863672])[:, None], 4, 1)
    for _ in range(2):
        layer(seq)
        np.testing.assert_allclose(layer(seq).detach().numpy(), expected, atol=1e-5)
        layer.reset_state()


def test_lstm_keras_initial_state_values():
    init = [torch.arange(4.0).reshape(2, 2), torch.arange(4.0).reshape(2, 2)]
    for options, expected in (({}, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
                              ({"go_backwards": True}, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]])):
        out = L.LSTM(2, **CONST, **options)(torch.from_numpy(SEQ24), initial_state=init)
        np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-5)


def test_lstm_keras_masking_values():
    seq, mask = torch.from_numpy(SEQ24), torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    out = L.LSTM(2, unroll=True, **CONST)(seq, mask=mask)
    np.testing.assert_allclose(out.detach().numpy(), [[0.11755939] * 2, [0.28556206] * 2], atol=1e-5)
    steps0 = [0.01588910, 0.05552048, 0.11755939, 0.11755939]
    steps1 = [0.14185596, 0.28556206, 0.28556206, 0.28556206]
    out = L.LSTM(2, return_sequences=True, **CONST)(seq, mask=mask).detach().numpy()
    np.testing.assert_allclose(out[..., 0], [steps0, steps1], atol=1e-5)
    out = L.LSTM(2, return_sequences=True, zero_output_for_mask=True, **CONST)(seq, mask=mask).detach().numpy()
    np.testing.assert_allclose(out[..., 0], [steps0[:3] + [0.0], steps1[:2] + [0.0, 0.0]], atol=1e-5)
    back = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    out = L.LSTM(2, go_backwards=True, **CONST)(seq, mask=back)
    np.testing.assert_allclose(out.detach().numpy(), [[0.15341201] * 2, [0.3844719] * 2], atol=1e-5)


# ---- LSTM and Bidirectional against Keras with random weights ----

def _lstm_pair(options, units=5):
    k = keras.layers.LSTM(units, **options)
    k(X)
    ours = L.LSTM(units, **options)
    ours(torch.from_numpy(X))
    ours.set_weights(k.get_weights())
    return k, ours.eval()


@pytest.mark.parametrize("options", [
    {"return_sequences": True}, {"return_sequences": True, "go_backwards": True},
    {"return_sequences": True, "zero_output_for_mask": True}, {"return_state": True},
])
def test_lstm_matches_keras_with_masks(options):
    k, ours = _lstm_pair(options)
    want = k(X, mask=MASK)
    got = ours(torch.from_numpy(X), mask=torch.from_numpy(MASK))
    for a, b in zip(*(([got], [want]) if not options.get("return_state") else (got, want))):
        np.testing.assert_allclose(a.detach().numpy(), to_np(b), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_matches_keras_with_masks(merge_mode, return_sequences):
    k = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode)
    k(X)
    ours = L.Bidirectional(L.LSTM(4, return_sequences=return_sequences), merge_mode=merge_mode)
    ours(torch.from_numpy(X))
    ours.set_weights(k.get_weights())
    got = ours.eval()(torch.from_numpy(X), mask=torch.from_numpy(MASK))
    np.testing.assert_allclose(got.detach().numpy(), to_np(k(X, mask=MASK)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_merge_mode_none_returns_both_directions_as_keras(return_sequences, return_state):
    options = dict(return_sequences=return_sequences, return_state=return_state)
    k = keras.layers.Bidirectional(keras.layers.LSTM(4, **options), merge_mode=None)
    k(X)
    ours = L.Bidirectional(L.LSTM(4, **options), merge_mode=None)
    ours(torch.from_numpy(X))
    ours.set_weights(k.get_weights())
    got, want = ours.eval()(torch.from_numpy(X), mask=torch.from_numpy(MASK)), k(X, mask=MASK)
    assert len(got) == len(want) == (6 if return_state else 2)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.detach().numpy(), to_np(b), atol=1e-5, rtol=1e-5)
    shapes = ours.compute_output_shape((2, X.shape[1], X.shape[2]))
    assert [tuple(s[1:]) for s in shapes] == [tuple(a.shape[1:]) for a in got]


def test_lstm_argument_list_is_keras_order():
    import inspect
    keras_args = list(inspect.signature(keras.layers.LSTM.__init__).parameters)[1:-1]  # no self, kwargs
    ours = list(inspect.signature(L.LSTM.__init__).parameters)[1:]
    assert ours[:len(keras_args)] == keras_args
    layer = L.LSTM(3, kernel_regularizer="l2", recurrent_constraint="non_neg", seed=3, input_shape=(None, 2))
    again = L.LSTM(**layer.get_config())
    assert again.get_config() == layer.get_config()
    assert again.reset_state() is None and layer.implementation == 2


def _copy_from_keras(kmodel, ours):
    """Copy a Keras model's weights into the lstmkit model whose layers are in the same order."""
    ours_layers = [m for m in ours.layers if m.get_weights()] if hasattr(ours, "layers") else []
    keras_layers = [layer for layer in kmodel.layers if layer.get_weights()]
    assert len(ours_layers) == len(keras_layers)
    for k, o in zip(keras_layers, ours_layers):
        o.set_weights(k.get_weights())


def test_cnn_lstm_sequential_matches_keras():
    def build(K):
        return K.Sequential([K.Input(shape=(12, 3)), K.layers.Conv1D(6, 3, padding="causal", activation="relu"),
                             K.layers.MaxPooling1D(2), K.layers.LSTM(5, return_sequences=True),
                             K.layers.LayerNormalization(), K.layers.GlobalAveragePooling1D(),
                             K.layers.RepeatVector(2), K.layers.LSTM(4, return_sequences=True),
                             K.layers.TimeDistributed(K.layers.Dense(1))])
    kmodel, ours = build(keras), build(lstmkit)
    _copy_from_keras(kmodel, ours)
    x = np.random.default_rng(4).normal(size=(5, 12, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name,kwargs,inputs,style,call_kwargs", CASES[1:],
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES[1:], 1)])
def test_layer_config_round_trips(name, kwargs, inputs, style, call_kwargs):
    layer = getattr(L, name)(**kwargs)
    call(layer, [torch.from_numpy(x) for x in inputs], style, {})
    again = L.LAYERS[name](**layer.get_config())
    assert again.get_config() == layer.get_config()


def test_saved_sequential_with_new_layers_predicts_the_same(tmp_path):
    lstmkit.set_seed(1)
    model = lstmkit.Sequential([
        lstmkit.Input((7, 4)), L.Conv1D(6, 3, padding="same", kernel_regularizer="l2"), L.BatchNormalization(),
        L.LeakyReLU(), L.AveragePooling1D(2, padding="same"), L.LSTM(5, return_sequences=True),
        L.LayerNormalization(), L.GlobalMaxPooling1D(), L.RepeatVector(2), L.Flatten(), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, X[:, 0, :1], epochs=2, verbose=0)  # moves BatchNormalization's statistics
    model.save(tmp_path / "m")
    again = lstmkit.models.load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))


def test_attention_dropout_is_seeded_and_only_while_training():
    q, v = torch.from_numpy(Q), torch.from_numpy(X)
    a, b = L.Attention(dropout=0.5, seed=3).train(), L.Attention(dropout=0.5, seed=3).train()
    out_a, out_b = a([q, v]), b([q, v])
    assert torch.equal(out_a, out_b) and not torch.allclose(out_a, a.eval()([q, v]))
    mha = L.MultiHeadAttention(2, 3, dropout=0.5, seed=1)
    mha(q, v)
    assert torch.equal(mha.eval()(q, v), mha(q, v)) and not torch.equal(mha.train()(q, v), mha.eval()(q, v))


def test_bidirectional_with_a_backward_layer_matches_keras():
    def build(K, **init):
        forward = K.layers.LSTM(3, return_sequences=True)
        backward = K.layers.LSTM(3, return_sequences=True, go_backwards=True, **init)
        return K.layers.Bidirectional(forward, backward_layer=backward, merge_mode="ave")
    k, ours = build(keras), build(lstmkit, bias_initializer="ones")
    k(X)
    ours(torch.from_numpy(X))
    ours.set_weights(k.get_weights())
    got = ours.eval()(torch.from_numpy(X), mask=torch.from_numpy(MASK))
    np.testing.assert_allclose(got.detach().numpy(), to_np(k(X, mask=MASK)), atol=1e-5, rtol=1e-5)
    again = L.Bidirectional(**{**ours.get_config(), "layer": L.LSTM(**ours.get_config()["layer"]["config"])})
    assert again.get_config() == ours.get_config()
    with pytest.raises(lstmkit.LstmkitError, match="backward_layer: expected units=3"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(4, go_backwards=True))
