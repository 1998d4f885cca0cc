"""Keras-style layers: Keras' parameter counts, masks through LSTM and Bidirectional, lazy build,
wrappers, stateful layers, Keras weight layout, recurrent dropout on lstmkit's kernels."""
import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.errors import LstmkitError
from lstmkit.layers import (LSTM, Activation, Bidirectional, Dense, Dropout, Embedding, Input, Masking,
                            TimeDistributed)
from lstmkit.models import Sequential




def counts(model):
    return [row[2] for row in model.summary_rows()]


# The numbers Keras 3.15 prints in model.summary() for the same models.
def test_param_counts_lstm_dense():
    model = Sequential([LSTM(50, input_shape=(None, 1)), Dense(1)])
    assert counts(model) == [10400, 51]
    assert model.count_params() == 10451
    text = model.summary(print_fn=None)
    assert "lstm (LSTM)" in text and "(None, 50)" in text and "Total params: 10,451 (40.82 KB)" in text


def test_param_counts_embedding_stacked_lstm():
    model = Sequential([Input((None,)), Embedding(1000, 64), LSTM(32, return_sequences=True), LSTM(16),
                        Dense(3, activation="softmax")])
    assert counts(model) == [64000, 12416, 3136, 51]
    assert model.output_shapes == [(None, None, 64), (None, None, 32), (None, 16), (None, 3)]


def test_param_counts_bidirectional_and_time_distributed():
    model = Sequential([Input((20, 8)), Bidirectional(LSTM(32, return_sequences=True)),
                        Bidirectional(LSTM(16), merge_mode="sum"), Dense(1)])
    assert counts(model) == [10496, 10368, 17]
    assert model.output_shapes[:2] == [(None, 20, 64), (None, 16)]
    td = Sequential([Input((None, 8)), LSTM(4, return_sequences=True), TimeDistributed(Dense(3))])
    assert counts(td) == [208, 15] and td.output_shapes[-1] == (None, None, 3)


def test_lstm_without_bias_and_keras_weight_layout():
    layer = LSTM(6, use_bias=False, input_shape=(None, 3))
    assert sum(p.numel() for p in layer.parameters()) == 4 * 6 * (3 + 6)
    kernel, recurrent = LSTM(6, input_shape=(None, 3)).get_weights()[:2]
    assert kernel.shape == (3, 24) and recurrent.shape == (6, 24)


def test_keras_initialisation_and_unit_forget_bias():
    torch.manual_seed(0)
    layer = LSTM(8, input_shape=(None, 4))
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)  # orthogonal rows
    assert np.all(bias[8:16] == 1) and np.all(bias[:8] == 0) and np.all(bias[16:] == 0)
    assert np.abs(kernel).max() <= np.sqrt(6 / (4 + 32))  # glorot-uniform limit
    no_forget = LSTM(8, unit_forget_bias=False, bias_initializer="ones", input_shape=(None, 4))
    assert np.all(no_forget.get_weights()[2] == 1)


def test_lazy_build_from_first_batch():
    model = Sequential([Embedding(50, 6), LSTM(5), Dense(2)])
    assert not model.built
    out = model(torch.randint(0, 50, (3, 7)))
    assert out.shape == (3, 2) and model.built and counts(model) == [300, 240, 12]
    bi = Sequential([Embedding(50, 6), Bidirectional(LSTM(5)), Dense(2)])
    assert bi(torch.randint(0, 50, (3, 7))).shape == (3, 2) and counts(bi) == [300, 480, 22]


def _padded(right: bool):
    """Two sequences of lengths 5 and 3 (ids 1..9), padded with 0 to length 7."""
    seqs = [[3, 1, 4, 1, 5], [9, 2, 6]]
    rows = [s + [0] * (7 - len(s)) if right else [0] * (7 - len(s)) + s for s in seqs]
    return seqs, torch.tensor(rows)


@pytest.mark.parametrize("right", [True, False], ids=["right-padded", "left-padded"])
@pytest.mark.parametrize("wrap", [False, True], ids=["LSTM", "Bidirectional"])
def test_mask_zero_padding_changes_no_valid_step(right, wrap):
    torch.manual_seed(1)
    emb = Embedding(10, 4, mask_zero=True)
    rnn = LSTM(5, return_sequences=True)
    last = LSTM(5)
    if wrap:
        rnn, last = Bidirectional(rnn), Bidirectional(last)
    model = Sequential([Input((None,)), emb, rnn])
    final = Sequential([Input((None,)), emb, last])
    seqs, padded = _padded(right)
    model.eval(), final.eval()
    with torch.no_grad():
        out, out_final = model(padded), final(padded)
        for b, s in enumerate(seqs):
            alone = model(torch.tensor([s]))[0]
            steps = slice(0, len(s)) if right else slice(7 - len(s), 7)
            torch.testing.assert_close(out[b, steps], alone, atol=1e-6, rtol=1e-5)
            torch.testing.assert_close(out_final[b], final(torch.tensor([s]))[0], atol=1e-6, rtol=1e-5)
            pad = slice(len(s), 7) if right else slice(0, 7 - len(s))
            if wrap or not right:  # Bidirectional zeroes masked steps; none valid yet: zeros
                assert torch.all(out[b, pad] == 0)
            else:  # Keras' LSTM default: a masked step repeats the previous output
                assert torch.equal(out[b, pad], out[b, len(s) - 1].expand(7 - len(s), -1))


def test_masking_layer_matches_unpadded():
    torch.manual_seed(2)
    model = Sequential([Masking(0.0, input_shape=(None, 2)), LSTM(4)])
    x = torch.randn(1, 4, 2)
    padded = torch.cat([torch.zeros(1, 3, 2), x], 1)  # left padding
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(padded), model(x), atol=1e-6, rtol=1e-5)


def test_recurrent_dropout_runs_on_lstmkits_kernels(monkeypatch):
    calls = []
    for kernel in (kernels.fused, kernels.compiled):  # compiled where it is built, else fused
        monkeypatch.setattr(kernel, "run", lambda *a, _run=kernel.run, **k: calls.append(1) or _run(*a, **k))
    torch.manual_seed(0)
    layer = LSTM(8, recurrent_dropout=0.5, input_shape=(None, 3))
    x = torch.randn(4, 6, 3)
    layer.train()
    a, b = layer(x), layer(x)
    assert len(calls) == 2 and not torch.allclose(a, b)  # a fresh mask per call
    layer.eval()
    assert layer.select_kernel()[0].name == "native"  # no dropout at inference: fastest kernel
    torch.testing.assert_close(layer(x), layer(x))


def test_stateful_carries_state_and_resets():
    torch.manual_seed(0)
    layer = LSTM(4, stateful=True, input_shape=(None, 2))
    x = torch.randn(3, 5, 2)
    with torch.no_grad():
        first, second = layer(x), layer(x)
        whole = LSTM(4, input_shape=(None, 2))
        whole.load_state_dict(layer.state_dict())
        assert not torch.allclose(first, second)
        torch.testing.assert_close(second, whole(torch.cat([x, x], 1)), atol=1e-6, rtol=1e-5)
        layer.reset_states()
        torch.testing.assert_close(layer(x), first)
    with pytest.raises(LstmkitError, match="stateful"):
        layer(torch.randn(2, 5, 2))


def test_return_state_go_backwards_and_initial_state():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3)
    layer = LSTM(4, return_state=True, input_shape=(None, 3))
    out, h, c = layer(x)
    torch.testing.assert_close(out, h)
    back = LSTM(4, go_backwards=True, input_shape=(None, 3))
    back.load_state_dict({k: v for k, v in layer.state_dict().items()})
    torch.testing.assert_close(back(x), layer(x.flip(1))[0])
    out2, _, _ = layer(x[:, 3:], initial_state=layer(x[:, :3])[1:])
    torch.testing.assert_close(out2, out, atol=1e-6, rtol=1e-5)


def test_core_layers():
    torch.manual_seed(0)
    assert torch.allclose(Activation("softmax")(torch.randn(2, 3)).sum(-1), torch.ones(2))
    drop = Dropout(0.5)
    x = torch.ones(1000)
    drop.train()
    kept = drop(x)
    assert 0.4 < (kept > 0).float().mean() < 0.6 and set(kept.unique().tolist()) <= {0.0, 2.0}
    drop.eval()
    assert torch.equal(drop(x), x)
    dense = Dense(2, input_shape=(3,))
    dense.set_weights([np.ones((3, 2)), np.array([1.0, -1.0])])
    assert dense(torch.ones(1, 3)).tolist() == [[4.0, 2.0]]


def test_layer_argument_errors():
    for make, match in ((lambda: LSTM(0), "units"), (lambda: LSTM(4, activation="nope"), "activation"),
                        (lambda: LSTM(4, recurrent_dropout=1.0), "recurrent_dropout"),
                        (lambda: Dense(2, activation="nope"), "known"),
                        (lambda: LSTM(4, kernel_initializer="nope", input_shape=(None, 2)), "initializer"),
                        (lambda: Bidirectional(LSTM(4), merge_mode="max"), "merge_mode"),
                        (lambda: Bidirectional(Dense(2)), "LSTM")):
        with pytest.raises(LstmkitError, match=match):
            make()
    with pytest.raises(LstmkitError, match="array of shape \\(3, 2\\)"):
        Dense(2, input_shape=(3,)).set_weights([np.ones((2, 2)), np.ones(2)])
    with pytest.raises(LstmkitError, match="3 features"):
        LSTM(4, input_shape=(None, 3))(torch.randn(2, 5, 4))
    with pytest.raises(LstmkitError, match="float32 input"):
        LSTM(4, input_shape=(None, 3))(torch.randn(2, 5, 3, dtype=torch.float64))


def test_explain_reports_keras_layers():
    model = Sequential([Input((None, 3)), Bidirectional(LSTM(4))])
    text = lstmkit.explain(model, file=open("/dev/null", "w"))
    assert "bidirectional" in text and "native" in text
    assert "forward_layer" not in text and "backward_layer" not in text  # one line: one kernel call
    bigru = Bidirectional(lstmkit.layers.GRU(4, input_shape=(None, 3)))
    text = lstmkit.explain(bigru, file=open("/dev/null", "w"))
    assert text.startswith(("Bidirectional: compiled", "Bidirectional: native")) and "_layer" not in text


def _sine_weights(model):
    """Deterministic weights in Keras' order and layout (the same formula was given to Keras)."""
    return [np.sin(np.arange(w.size) * 0.7 + k).reshape(w.shape).astype("float32") * 0.5
            for k, w in enumerate(model.get_weights())]


# Outputs Keras 3.15 (torch backend) printed for the same models and weights.
KERAS_MASKED_BIDIRECTIONAL = [[0.536040, 0.244909], [0.554111, 0.237144]]
KERAS_SEQUENCES = [[[-0.188039, -0.008923, 0.128550], [-0.020688, 0.027482, 0.062408],
                    [0.095142, 0.157774, 0.111640], [-0.141105, 0.108155, 0.196143]],
                   [[0.001744, 0.014188, 0.018956], [0.117179, 0.141683, 0.089262],
                    [-0.126527, 0.140753, 0.195292], [-0.045043, 0.054185, 0.095698]]]


def test_same_weights_give_keras_outputs():
    model = Sequential([Input((None,)), Embedding(5, 2, mask_zero=True), Bidirectional(LSTM(3)), Dense(2)])
    model.set_weights(_sine_weights(model))
    ids = np.array([[3, 1, 2, 0, 0], [0, 0, 4, 4, 1]])  # right- and left-padded
    np.testing.assert_allclose(model.predict(ids), KERAS_MASKED_BIDIRECTIONAL, atol=2e-6)
    seq = Sequential([Input((None, 2)), LSTM(3, return_sequences=True)])
    seq.set_weights(_sine_weights(seq))
    x = np.cos(np.arange(16)).reshape(2, 4, 2).astype("float32")
    np.testing.assert_allclose(seq.predict(x), KERAS_SEQUENCES, atol=2e-6)
