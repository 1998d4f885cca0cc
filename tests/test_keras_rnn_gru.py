"""Keras-style SimpleRNN and GRU against Keras 3 itself (torch backend) holding the same weights: outputs
with masks, return_sequences, return_state, go_backwards and Bidirectional; Keras' weight layout, the
torch <-> Keras GRU conversions in gates.py, stateful layers and save/load_model."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import gates  # noqa: E402
from lstmkit.errors import LstmkitError  # noqa: E402
from lstmkit.layers import GRU, Bidirectional, Dense, Embedding, SimpleRNN  # noqa: E402
from lstmkit.models import Sequential, load_model  # noqa: E402

B, T, I, H = 3, 6, 4, 5
LAYERS = {"gru": (GRU, keras.layers.GRU, {}), "gru_reset_before": (GRU, keras.layers.GRU, {"reset_after": False}),
          "rnn_tanh": (SimpleRNN, keras.layers.SimpleRNN, {}),
          "rnn_relu": (SimpleRNN, keras.layers.SimpleRNN, {"activation": "relu"})}
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]], dtype=bool)  # right, left padding


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((B, T, I)).astype("float32")


def _pair(kind, options, wrap=False):
    ours_cls, keras_cls, extra = LAYERS[kind]
    lstmkit.set_seed(0)
    ours = ours_cls(H, **extra, **options)
    theirs = keras_cls(H, **extra, **options)
    if wrap:
        ours, theirs = Bidirectional(ours), keras.layers.Bidirectional(theirs)
    x = _data()
    ours(torch.from_numpy(x))
    theirs(x)
    ours.set_weights([w + np.float32(0.1) * np.sign(w) for w in ours.get_weights()])  # non-zero biases too
    theirs.set_weights(ours.get_weights())
    return ours, theirs, x


def _close(ours, theirs):
    ours = list(ours) if isinstance(ours, (list, tuple)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = keras.ops.convert_to_numpy(b)
        assert a.shape == b.shape
        np.testing.assert_allclose(a.detach().numpy(), b, atol=1e-5 * max(1.0, np.abs(b).max()), rtol=0)


OPTIONS = [{}, {"return_sequences": True}, {"return_state": True}, {"go_backwards": True, "return_sequences": True},
           {"return_sequences": True, "zero_output_for_mask": True}]


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("masked", (False, True))
def test_layer_matches_keras(kind, options, masked):
    ours, theirs, x = _pair(kind, options)
    mask = MASK if masked else None
    _close(ours(torch.from_numpy(x), mask=None if mask is None else torch.from_numpy(mask)),
           theirs(x, mask=mask))


@pytest.mark.parametrize("kind", ("gru", "gru_reset_before", "rnn_tanh"))
@pytest.mark.parametrize("options", ({}, {"return_sequences": True}, {"return_state": True}),
                         ids=lambda o: ",".join(o) or "default")
def test_bidirectional_matches_keras(kind, options):
    ours, theirs, x = _pair(kind, options, wrap=True)
    _close(ours(torch.from_numpy(x), mask=torch.from_numpy(MASK)), theirs(x, mask=MASK))


def test_weights_have_keras_shapes_and_counts():
    for kind, shapes in (("gru", [(I, 3 * H), (H, 3 * H), (2, 3 * H)]),
                         ("gru_reset_before", [(I, 3 * H), (H, 3 * H), (3 * H,)]),
                         ("rnn_tanh", [(I, H), (H, H), (H,)])):
        ours, theirs, _ = _pair(kind, {})
        assert [w.shape for w in ours.get_weights()] == shapes == [w.shape for w in theirs.get_weights()]
        assert sum(p.numel() for p in ours.parameters()) == theirs.count_params()


def test_gru_conversions_round_trip_and_match_torch():
    torch.manual_seed(0)
    ref = torch.nn.GRU(I, H, batch_first=True)
    ours = GRU(H, return_sequences=True)
    x = torch.from_numpy(_data())
    ours(x)
    kernel, recurrent, bias = gates.gru_torch_to_keras(ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0,
                                                      ref.bias_hh_l0)
    ours.set_weights([t.detach().numpy() for t in (kernel, recurrent, bias)])
    assert torch.allclose(ours(x), ref(x)[0], atol=1e-6)
    back = gates.gru_keras_to_torch(kernel, recurrent, bias)
    for a, b in zip(back, (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0)):
        assert torch.equal(a, b)
    assert torch.equal(kernel[:, :H], ref.weight_ih_l0[H:2 * H].t())  # Keras' first gate is z, torch's second
    w_ih, w_hh, b_ih, b_hh = gates.gru_keras_to_torch(kernel, recurrent, bias[0] + bias[1], reset_after=False)
    assert torch.equal(b_hh, torch.zeros(3 * H)) and torch.allclose(b_ih, ref.bias_ih_l0 + ref.bias_hh_l0)


def test_stateful_carries_the_state_like_one_long_call():
    layer = GRU(H, stateful=True, return_sequences=True)
    x = torch.from_numpy(_data())
    first, second = layer(x[:, :3]), layer(x[:, 3:])
    layer.reset_states()
    whole = layer(x)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_save_and_load_model_keeps_outputs(tmp_path):
    lstmkit.set_seed(0)
    model = Sequential([Embedding(10, 4, mask_zero=True), Bidirectional(GRU(H, return_sequences=True)),
                        SimpleRNN(H, activation="relu", return_sequences=True), GRU(3, reset_after=False), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    ids = np.random.default_rng(0).integers(0, 10, (8, 5))
    history = model.fit(ids, ids[:, :1] / 10, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    before = model.predict(ids, verbose=0)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(ids, verbose=0), before, atol=1e-6)


def test_unavailable_keras_arguments_are_clear_errors():
    with pytest.raises(LstmkitError, match="kernel_regularizer"):
        GRU(H, kernel_regularizer="l2")
    with pytest.raises(LstmkitError, match="activation"):
        SimpleRNN(H, activation="sigmoid")
    with pytest.raises(LstmkitError, match="recurrent_activation"):
        GRU(H, recurrent_activation="hard_sigmoid")
    with pytest.raises(LstmkitError, match="set_weights"):
        GRU(H, input_shape=(None, I)).set_weights([np.zeros((I, 3 * H)), np.zeros((H, 3 * H)), np.zeros(3 * H)])
