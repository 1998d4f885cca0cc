"""minLSTM / minGRU: the log-space scan against the sequential form; modules, layers, long-range quick run."""
import json

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit import long_range
from lstmkit.cells import min_rnn
from lstmkit.layers import LSTM, Bidirectional, MinGRU, MinLSTM
from lstmkit.models import Sequential

CLASSES = (lstmkit.nn.MinLSTM, lstmkit.nn.MinGRU)


def _grads(module, x, h0, mask=None):
    x, h0 = x.detach().clone().requires_grad_(True), h0.detach().clone().requires_grad_(True)
    y, h = module(x, h0, mask=mask)
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + (h * 0.5).sum()
    return [y, h, *torch.autograd.grad(loss, [x, h0, *module.parameters()])]


@pytest.mark.parametrize("engine", ("compiled", "fused"))  # the compiled scan and the log-space scan
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_scan_matches_sequential_form(cls, dtype, engine):
    g = torch.Generator().manual_seed(0)
    for masked in (False, True):
        torch.manual_seed(0)
        scan = cls(3, 4, num_layers=2, bidirectional=True, dtype=dtype, engine=engine)
        seq = cls(3, 4, num_layers=2, bidirectional=True, dtype=dtype, engine="reference")
        seq.load_state_dict(scan.state_dict())
        x = torch.randn(9, 2, 3, generator=g, dtype=dtype)
        h0 = torch.randn(4, 2, 4, generator=g, dtype=dtype)  # any sign: h0 enters the scan linearly
        mask = torch.tensor([[0, 1]] * 2 + [[1, 1]] * 5 + [[1, 0]] * 2, dtype=torch.bool) if masked else None
        tol = 1e-10 if dtype == torch.float64 else 1e-5
        for a, b in zip(_grads(scan, x, h0, mask), _grads(seq, x, h0, mask), strict=True):
            assert float((a - b).abs().max()) <= tol * max(1.0, float(b.abs().max()))


@pytest.mark.parametrize("engine", ("compiled", "fused"))
def test_scan_is_stable_over_long_sequences(engine):
    torch.manual_seed(0)
    m = lstmkit.nn.MinLSTM(2, 8, engine=engine)
    x = torch.randn(3000, 2, 2)
    y32, _ = m(x)
    y64, _ = m.double()(x.double())
    assert torch.isfinite(y32).all()
    assert float((y32.double() - y64).abs().max()) < 1e-3  # float32 log-space scan over 3000 steps


def test_equations_of_the_cells():
    w = min_rnn.MinWeights("minlstm", torch.randn(6, 2, dtype=torch.float64), torch.randn(6, dtype=torch.float64))
    x = torch.randn(1, 1, 2, dtype=torch.float64)
    k = min_rnn.projections(x, w)
    f, i = torch.sigmoid(k["f"]), torch.sigmoid(k["i"])
    a, b = min_rnn.coefficients(x, w)
    torch.testing.assert_close(a + i / (f + i), torch.ones_like(a))  # f' + i' = 1
    log_a, log_b = min_rnn.log_coefficients(x, w)
    torch.testing.assert_close(log_a.exp(), a)
    torch.testing.assert_close(log_b.exp(), b)
    v = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(min_rnn.g(v), torch.tensor([torch.sigmoid(torch.tensor(-2.0)).item(), 0.5, 3.5],
                                                          dtype=torch.float64))


def test_module_interface_like_torch_gru():
    m = lstmkit.nn.MinGRU(3, 4, batch_first=True)
    assert [k for k, _ in m.named_parameters()] == ["weight_ih_l0", "bias_ih_l0"]
    assert m.weight_ih_l0.shape == (8, 3)
    x = torch.randn(3, 5, 3)
    packed = pack_padded_sequence(x, torch.tensor([5, 2, 4]), batch_first=True, enforce_sorted=False)
    y, h = m(packed)
    full, h_full = m(x[1:2, :2])
    torch.testing.assert_close(h[:, 1], h_full[:, 0])
    assert m(x[0])[0].shape == (5, 4)  # unbatched
    with pytest.raises(ValueError, match="h0"):
        m(x, torch.zeros(2, 3, 4))
    assert "compiled" in lstmkit.explain(m, file=open("/dev/null", "w"))


def test_layers_masks_states_bidirectional_and_saving(tmp_path):
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6], dtype=torch.bool)
    out, h = MinLSTM(4, return_state=True)(x, mask=mask)
    assert out.shape == h.shape == (2, 4)
    layer = MinGRU(4, return_sequences=True, go_backwards=True)
    assert layer(x, mask=mask).shape == (2, 6, 4)
    bi = Bidirectional(MinGRU(4, return_state=True))
    out, h_f, h_b = bi(x, mask=mask)
    assert out.shape == (2, 8) and h_f.shape == h_b.shape == (2, 4)
    stateful = MinLSTM(4, stateful=True)
    first = stateful(x)
    assert not torch.equal(first, stateful(x))  # the carried state changes the second call
    stateful.reset_states()
    torch.testing.assert_close(stateful(x), first)
    model = Sequential([lstmkit.layers.Input((None, 3)), Bidirectional(MinLSTM(4, return_sequences=True)),
                        LSTM(3, peephole=True, cifg=True, layer_norm=True, zoneout=(0.1, 0.05), activation="relu")])
    expected = model.predict(x.numpy())
    model.save(tmp_path / "m")
    loaded = lstmkit.models.load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(x.numpy()), expected, atol=1e-6)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "MinLSTM" in json.dumps(config) and '"cifg": true' in json.dumps(config)


def test_long_range_quick_run(tmp_path):
    grid = [("adding", 20, ("LSTM", "SimpleRNN (torch.nn.RNN)"), 3), ("temporal_order", 20, ("minLSTM",), 3)]
    runs = long_range.run(grid, log=lambda *_: None, test_sequences=64)
    assert [r.seen for r in runs] == [96, 96, 96] and all(0 <= r.test_accuracy <= 1 for r in runs)
    for r in runs:
        long_range.append_run(r, tmp_path / "long_range.q.jsonl")
    text = long_range.write_report(tmp_path)
    assert "| LSTM | 0/1 · — · " in text and (tmp_path / "long_range.png").stat().st_size > 0
    x, target = long_range.adding_batch(100, 64, torch.Generator().manual_seed(0))
    assert 100 <= x.shape[1] <= 110 and ((x[..., 1] == 1).sum(1) == 2).all()  # exactly two marked pairs
    marked = x[..., 1] == 1
    assert (marked[:, 49:].sum(1) == 0).all()  # both within the first T/2 - 1 pairs
    first = marked[:, 0]
    assert first.any() and (x[first, 0, 0] == 0).all()  # the paper sets X1 to zero when the first pair is marked
    assert (x[~first, 0, 1] == -1).all() and (x[:, -1, 1] == -1).all()
    # the target is the scaled sum of the two marked inputs the network sees, in every case
    torch.testing.assert_close(target[:, 0], 0.5 + (x[..., 0] * marked).sum(1) / 4)
    x, cls = long_range.temporal_order_batch(100, 64, torch.Generator().manual_seed(0))
    sym = x.argmax(-1)
    assert (sym[:, 0] == 0).all() and (sym[:, -1] == 1).all() and ((sym >= 6).sum(1) == 2).all()
    first = sym[:, 10:21].max(1).values - 6
    assert torch.equal(cls // 2, first)


def test_bench_long_range_flag_checks_its_budget(capsys):
    from lstmkit.cli.main import main
    assert main(["bench", "--long-range", "--updates", "0"]) == 2
    assert "--updates: expected a positive integer, got 0" in capsys.readouterr().err
