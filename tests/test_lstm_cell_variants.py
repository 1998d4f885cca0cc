"""lstmkit.nn.LSTMCell with the LSTM variants: a loop of cells equals nn.LSTM with the same options."""
import pytest
import torch

import lstmkit
from lstmkit.errors import LstmkitError

OPTIONS = {
    "peephole": dict(peephole=True),
    "cifg": dict(cifg=True),
    "layer_norm": dict(layer_norm=True),
    "zoneout": dict(zoneout=(0.3, 0.2)),  # compared at inference, where zoneout is deterministic
    "activations": dict(activation="relu", recurrent_activation="hard_sigmoid"),
    "all": dict(peephole=True, cifg=True, layer_norm=True, zoneout=0.1, activation="softsign"),
}


def _cell_from(lstm, **options):
    cell = lstmkit.nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=torch.float64, **options)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    return cell


def _outputs_and_grads(step_all, params, x, h0, c0):
    x, h0, c0 = (t.clone().requires_grad_() for t in (x, h0, c0))
    y, h, c = step_all(x, h0, c0)
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + h.sum() + 0.5 * c.sum()
    return [y, h, c, *torch.autograd.grad(loss, [x, h0, c0, *params])]


@pytest.mark.parametrize("name", OPTIONS)
def test_a_loop_of_cells_equals_the_lstm_with_the_same_options(name):
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(3, 5, dtype=torch.float64, engine="reference", **OPTIONS[name]).eval()
    with torch.no_grad():
        for p in lstm.parameters():
            p.add_(0.3 * torch.randn_like(p))  # peepholes and gains away from their 0 / 1 start
    cell = _cell_from(lstm, **OPTIONS[name]).eval()
    x, h0, c0 = torch.randn(6, 2, 3, dtype=torch.float64), *torch.randn(2, 2, 5, dtype=torch.float64)

    def run_lstm(x, h0, c0):
        y, (h, c) = lstm(x, (h0[None], c0[None]))
        return y, h[0], c[0]

    def run_cells(x, h, c):
        ys = []
        for x_t in x:
            h, c = cell(x_t, (h, c))
            ys.append(h)
        return torch.stack(ys), h, c

    want = _outputs_and_grads(run_lstm, list(lstm.parameters()), x, h0, c0)
    got = _outputs_and_grads(run_cells, list(cell.parameters()), x, h0, c0)
    for a, b in zip(got, want, strict=True):
        assert float((a - b).abs().max()) <= 1e-10 * max(1.0, float(b.abs().max()))


def test_state_dict_names_are_the_lstms_without_the_layer_suffix():
    options = OPTIONS["all"]
    cell_keys = lstmkit.nn.LSTMCell(3, 5, **options).state_dict().keys()
    lstm_keys = lstmkit.nn.LSTM(3, 5, **options).state_dict().keys()
    assert [k + "_l0" for k in cell_keys] == list(lstm_keys)
    assert lstmkit.nn.LSTMCell(3, 5, cifg=True).weight_ih.shape == (15, 3)  # three gate blocks (i, g, o)


def test_defaults_unchanged_and_equal_to_torch():
    torch.manual_seed(0)
    ours = lstmkit.nn.LSTMCell(3, 4)
    theirs = torch.nn.LSTMCell(3, 4)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x, hx = torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4))
    for a, b in zip(ours(x, hx), theirs(x, hx), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert repr(ours) == "LSTMCell(3, 4)"


def test_zoneout_in_training_keeps_each_unit_old_or_new():
    torch.manual_seed(0)
    zoned = lstmkit.nn.LSTMCell(3, 6, zoneout=(0.5, 0.5)).train()
    plain = lstmkit.nn.LSTMCell(3, 6)
    plain.load_state_dict(zoned.state_dict())
    x, (h0, c0) = torch.randn(64, 3), torch.randn(2, 64, 6)
    h, c = zoned(x, (h0, c0))
    h_new, c_new = plain(x, (h0, c0))
    for got, old, new in ((h, h0, h_new), (c, c0, c_new)):
        kept, updated = torch.isclose(got, old, atol=1e-6), torch.isclose(got, new, atol=1e-6)
        assert bool((kept | updated).all())
        assert 0.3 < float(kept.double().mean()) < 0.7  # z = 0.5 of the units keep their value
    assert torch.allclose(zoned.eval()(x, (h0, c0))[1], 0.5 * c0 + 0.5 * c_new)  # z at inference


def test_bad_variant_options_name_the_argument():
    with pytest.raises(LstmkitError, match="zoneout"):
        lstmkit.nn.LSTMCell(3, 4, zoneout=1.5)
    with pytest.raises(LstmkitError, match="recurrent_activation"):
        lstmkit.nn.LSTMCell(3, 4, recurrent_activation="nope")
