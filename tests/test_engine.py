"""Every kernel against torch.nn.LSTM holding the same weights: outputs, final states and gradients."""
import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit
from lstmkit import kernels

KERNELS = ("native", "fused", "reference")
I, H = 5, 6
GRID = [dict(num_layers=n, bidirectional=bd, proj_size=p, bias=b, batch_first=bf)
        for n, bd, p, b, bf in itertools.product((1, 2, 3), (False, True), (0, 3), (True, False), (False, True))
        if not (n == 3 and (p or not b))]  # keep the grid small: 3 layers with the default options


def _pair(cfg, engine, dtype):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, dtype=dtype, **cfg)
    ours = lstmkit.nn.LSTM(I, H, dtype=dtype, engine=engine, **cfg)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _run(module, x, hx):
    if hasattr(x, "batch_sizes"):  # PackedSequence: differentiate with respect to its data
        x = x._replace(data=x.data.detach().clone().requires_grad_(True))
        x_leaf = x.data
    else:
        x = x_leaf = x.detach().clone().requires_grad_(True)
    hx = tuple(h.detach().clone().requires_grad_(True) for h in hx)
    y, (h, c) = module(x, hx)
    y_data = y.data if hasattr(y, "batch_sizes") else y
    # Weighted sums so every output element gets a distinct gradient.
    loss = (y_data * torch.linspace(-1, 1, y_data.numel(), dtype=y_data.dtype).view_as(y_data)).sum()
    loss = loss + (h * 0.5).sum() - (c * 0.25).sum()
    grads = torch.autograd.grad(loss, [x_leaf, *hx, *module.parameters()])
    return [y_data, h, c, *grads]


def _inputs(cfg, dtype, T=7, B=3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, I) if cfg["batch_first"] else (T, B, I), generator=g, dtype=dtype)
    D = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    h0 = torch.randn(D, B, cfg["proj_size"] or H, generator=g, dtype=dtype)
    c0 = torch.randn(D, B, H, generator=g, dtype=dtype)
    return x, (h0, c0)


def _assert_close(ours, theirs, dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for a, b in zip(ours, theirs, strict=True):
        scale = max(1.0, float(b.detach().abs().max()))
        assert float((a - b).detach().abs().max()) <= tol * scale


@pytest.mark.parametrize("engine", KERNELS)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_kernels_match_torch_over_grid(engine, dtype):
    for cfg in GRID:
        ref, ours = _pair(cfg, engine, dtype)
        x, hx = _inputs(cfg, dtype)
        _assert_close(_run(ours, x, hx), _run(ref, x, hx), dtype)


@pytest.mark.parametrize("engine", KERNELS)
@pytest.mark.parametrize("bidirectional", (False, True))
def test_packed_variable_length_matches_torch(engine, bidirectional):
    cfg = dict(num_layers=2, bidirectional=bidirectional, proj_size=0, bias=True, batch_first=True)
    ref, ours = _pair(cfg, engine, torch.float64)
    x, hx = _inputs(cfg, torch.float64, T=6, B=4)
    lengths = torch.tensor([3, 6, 1, 4])  # unsorted on purpose
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _assert_close(_run(ours, packed, hx), _run(ref, packed, hx), torch.float64)


@pytest.mark.parametrize("engine", KERNELS)
def test_packed_output_is_a_packed_sequence_like_torch(engine):
    cfg = dict(num_layers=1, bidirectional=True, proj_size=0, bias=True, batch_first=False)
    ref, ours = _pair(cfg, engine, torch.float32)
    x = torch.randn(5, 3, I)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]))  # sorted: enforce_sorted=True
    y_ref, _ = ref(packed)
    y, _ = ours(packed)
    assert torch.equal(y.batch_sizes, y_ref.batch_sizes)
    padded, lengths = pad_packed_sequence(y)
    assert lengths.tolist() == [5, 3, 2] and torch.allclose(padded, pad_packed_sequence(y_ref)[0], atol=1e-6)


@pytest.mark.parametrize("engine", KERNELS)
def test_unbatched_input_matches_torch(engine):
    cfg = dict(num_layers=2, bidirectional=True, proj_size=2, bias=True, batch_first=False)
    ref, ours = _pair(cfg, engine, torch.float64)
    x = torch.randn(6, I, dtype=torch.float64)
    hx = (torch.randn(4, 2, dtype=torch.float64), torch.randn(4, H, dtype=torch.float64))
    _assert_close(_run(ours, x, hx), _run(ref, x, hx), torch.float64)


def test_fused_backward_passes_gradcheck():
    torch.manual_seed(0)
    for cfg in (dict(), dict(bidirectional=True, proj_size=2), dict(bias=False)):
        lstm = lstmkit.nn.LSTM(3, 4, engine="fused", dtype=torch.float64, **cfg)
        x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
        names = [n for n, _ in lstm.named_parameters()]

        def f(x, *ps):
            y, (h, c) = torch.func.functional_call(lstm, dict(zip(names, ps)), (x,))
            return y, h, c
        assert torch.autograd.gradcheck(f, (x, *[p.detach().clone().requires_grad_() for p in lstm.parameters()]))


def test_fused_layer_gradcheck_with_mask_and_recurrent_dropout():
    from lstmkit.kernels import fused
    torch.manual_seed(0)
    T, B, Hd = 5, 3, 4
    d = dict(dtype=torch.float64, requires_grad=True)
    args = [torch.randn(T, B, 3, **d), torch.randn(B, Hd, **d), torch.randn(B, Hd, **d),
            torch.randn(4 * Hd, 3, **d), torch.randn(4 * Hd, Hd, **d), torch.randn(4 * Hd, **d),
            torch.randn(4 * Hd, **d)]
    mask = torch.tensor([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    hmask = torch.tensor([[2.0, 0, 2, 2]] * B, dtype=torch.float64)
    for reverse in (False, True):
        fn = lambda *a: fused._op(*a, None, mask, hmask, reverse)[:3]  # noqa: E731
        assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("engine", ("fused", "reference"))
def test_masked_steps_change_nothing_left_or_right_padded(engine):
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(I, H, bidirectional=True, batch_first=True, engine=engine, dtype=torch.float64)
    seq = torch.randn(1, 4, I, dtype=torch.float64)
    y_alone, (h_alone, c_alone) = lstm(seq)
    pad = torch.randn(1, 3, I, dtype=torch.float64)  # garbage, must be ignored
    for x, mask, valid in ((torch.cat([seq, pad], 1), [1] * 4 + [0] * 3, slice(0, 4)),
                           (torch.cat([pad, seq], 1), [0] * 3 + [1] * 4, slice(3, 7))):
        y, (h, c) = lstm(x, mask=torch.tensor([mask], dtype=torch.bool))
        assert torch.allclose(y[:, valid], y_alone, atol=1e-12)
        assert torch.allclose(h, h_alone, atol=1e-12) and torch.allclose(c, c_alone, atol=1e-12)
        pad_rows = [t for t, m in enumerate(mask) if not m]
        assert torch.count_nonzero(y[:, pad_rows]) == 0


def test_recurrent_dropout_runs_fused_and_matches_reference():
    torch.manual_seed(0)
    fused_lstm = lstmkit.nn.LSTM(I, H, num_layers=2, recurrent_dropout=0.3, dtype=torch.float64)
    ref_lstm = lstmkit.nn.LSTM(I, H, num_layers=2, recurrent_dropout=0.3, dtype=torch.float64,
                               engine="reference")
    ref_lstm.load_state_dict(fused_lstm.state_dict())
    assert fused_lstm.select_kernel()[0].name == "fused"
    x = torch.randn(6, 2, I, dtype=torch.float64)
    hx = (torch.zeros(2, 2, H, dtype=torch.float64), torch.zeros(2, 2, H, dtype=torch.float64))
    outs = []
    for m in (fused_lstm, ref_lstm):
        torch.manual_seed(7)  # the same dropout masks for both
        outs.append(_run(m, x, hx))
    _assert_close(outs[0], outs[1], torch.float64)
    fused_lstm.eval()
    y_eval, _ = fused_lstm(x)
    fused_lstm.train()
    torch.manual_seed(8)
    assert not torch.allclose(fused_lstm(x)[0], y_eval)  # dropout is active in training only


def test_state_dict_loads_both_ways_strictly():
    for cfg in (dict(num_layers=2, bidirectional=True, proj_size=3), dict(bias=False)):
        theirs, ours = torch.nn.LSTM(I, H, **cfg), lstmkit.nn.LSTM(I, H, **cfg)
        ours.load_state_dict(theirs.state_dict(), strict=True)
        theirs.load_state_dict(ours.state_dict(), strict=True)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for (k, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert a.shape == b.shape, k


def test_lstmcell_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.LSTMCell(I, H, dtype=torch.float64)
    ours = lstmkit.nn.LSTMCell(I, H, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x, h, c = torch.randn(3, I, dtype=torch.float64), torch.randn(3, H, dtype=torch.float64), torch.randn(
        3, H, dtype=torch.float64)
    for args in ((x, (h, c)), (x[0], (h[0], c[0])), (x,)):
        for a, b in zip(ours(*args), theirs(*args)):
            assert torch.allclose(a, b, atol=1e-12)


def test_auto_selects_native_and_explains_why():
    lstm = lstmkit.nn.LSTM(I, H)
    assert lstm.select_kernel()[0].name == "native"
    kernel, reason = lstm.select_kernel(masked=True)
    assert kernel.name == "fused" and "native:" in reason and "mask" in reason
    kernel, reason = lstmkit.nn.LSTM(I, H, proj_size=3).select_kernel()
    assert kernel.name == "fused" and "projections" in reason
    kernel, reason = lstm.select_kernel(packed=True)  # lstm is in training mode
    assert kernel.name == "fused" and "packed" in reason
    assert lstm.eval().select_kernel(packed=True)[0].name == "native"
    lstm.train()
    text = lstmkit.explain(torch.nn.Sequential(lstm, lstmkit.nn.LSTM(H, H, recurrent_dropout=0.2)))
    assert text.splitlines()[0].startswith("0: native") and text.splitlines()[1].startswith("1: fused")


def test_named_kernel_that_cannot_run_raises():
    lstm = lstmkit.nn.LSTM(I, H, engine="native", recurrent_dropout=0.2)
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="recurrent dropout"):
        lstm(torch.randn(3, 2, I))
    with pytest.raises(ValueError, match="engine: expected one of auto, native, fused, reference"):
        lstmkit.nn.LSTM(I, H, engine="cudnn")
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="mask"):
        lstmkit.nn.LSTM(I, H, engine="native")(torch.randn(3, 2, I), mask=torch.ones(3, 2, dtype=torch.bool))


@pytest.mark.parametrize("call, message", [
    (lambda m: m(torch.randn(2, 3, 4, 5)), r"input: expected shape \(T, B, 5\) or \(T, 5\), got \(2, 3, 4, 5\)"),
    (lambda m: m(torch.randn(4, 2, 7)), r"input: expected 5 features in the last dimension, got shape \(4, 2, 7\)"),
    (lambda m: m(torch.randn(4, 2, 5), (torch.zeros(1, 3, 6), torch.zeros(1, 2, 6))),
     r"h0: expected shape \(1, 2, 6\), got \(1, 3, 6\)"),
    (lambda m: m(torch.randn(4, 2, 5), (torch.zeros(1, 2, 6), torch.zeros(2, 2, 6))),
     r"c0: expected shape \(1, 2, 6\), got \(2, 2, 6\)"),
    (lambda m: m(torch.randn(4, 2, 5, dtype=torch.float64)), r"input: expected dtype torch.float32"),
    (lambda m: m(torch.randn(4, 2, 5), (torch.zeros(1, 2, 6, dtype=torch.float64), torch.zeros(1, 2, 6))),
     r"h0: expected dtype torch.float32 \(the input's\), got torch.float64"),
    (lambda m: m(torch.randn(4, 2, 5, device="meta")), r"input: expected a tensor on cpu"),
    (lambda m: m(torch.randn(4, 2, 5), mask=torch.ones(2, 4, dtype=torch.bool)),
     r"mask: expected shape \(4, 2\) \(time-major\), got \(2, 4\)"),
])
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(lstmkit.nn.LSTM(5, 6))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size: expected a positive int, got 0"):
        lstmkit.nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="proj_size: expected an int with 0 <= proj_size < hidden_size"):
        lstmkit.nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\), got 1.5"):
        lstmkit.nn.LSTM(3, 4, dropout=1.5)


def test_keras_initialisation():
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(7, 8, init="keras")
    w_hh = lstm.weight_hh_l0.detach()  # (4H, H): its transpose, Keras' (H, 4H) kernel, has orthonormal rows
    assert torch.allclose(w_hh.t() @ w_hh, torch.eye(8), atol=1e-5)
    limit = (6 / (7 + 32)) ** 0.5
    assert float(lstm.weight_ih_l0.detach().abs().max()) <= limit
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.equal(b[8:16], torch.ones(8)) and torch.count_nonzero(b[:8]) + torch.count_nonzero(b[16:]) == 0


def test_gate_layout_conversions_round_trip_and_compute_the_same():
    from lstmkit import gates
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4)
    k, r, b = gates.torch_to_keras(lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    assert k.shape == (3, 16) and r.shape == (4, 16) and b.shape == (16,)
    w_ih, w_hh, b_ih, b_hh = gates.keras_to_torch(k, r, b)
    other = torch.nn.LSTM(3, 4)
    with torch.no_grad():
        for name, v in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(other, name).copy_(v)
    x = torch.randn(5, 2, 3)
    assert torch.allclose(lstm(x)[0], other(x)[0], atol=1e-6)
    w = torch.arange(4.0).repeat_interleave(2)  # H=2: blocks i i f f g g o o
    assert torch.equal(gates.from_internal(gates.to_internal(w.view(8, 1))).view(-1), w)
    assert gates.to_internal(w.view(8, 1)).view(-1).tolist() == [3.0, 3.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0]  # o, i, f, g


def test_select_rejects_unknown_engine_and_names_reasons():
    with pytest.raises(ValueError, match="engine"):
        kernels.select(kernels.KernelConfig(), "cpu", "fast")
    kernel, reason = kernels.select(kernels.KernelConfig(recurrent_dropout=0.1), "cpu")
    assert kernel.name == "fused" and "recurrent dropout" in reason


@pytest.mark.parametrize("cfg", (dict(), dict(bidirectional=True, proj_size=64)))
def test_fused_matches_torch_at_sizes_that_use_onednn_matmuls(cfg):
    from lstmkit.kernels import fused
    torch.manual_seed(0)
    B, Hd = 64, 128  # B * 4H * P = 4.2M: above the size where the step GEMMs switch to oneDNN's
    assert B * 4 * Hd * (cfg.get("proj_size") or Hd) >= fused._ONEDNN_MIN_BACKWARD
    ref = torch.nn.LSTM(16, Hd, **cfg)
    ours = lstmkit.nn.LSTM(16, Hd, engine="fused", **cfg)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, B, 16)
    D = 2 if cfg.get("bidirectional") else 1
    hx = (torch.randn(D, B, cfg.get("proj_size") or Hd), torch.randn(D, B, Hd))
    _assert_close(_run(ours, x, hx), _run(ref, x, hx), torch.float32)


@pytest.mark.parametrize("engine", KERNELS)
def test_single_step_sequences_match_torch(engine):
    cfg = dict(num_layers=2, bidirectional=True, proj_size=0, bias=True, batch_first=True)
    ref, ours = _pair(cfg, engine, torch.float64)
    x, hx = _inputs(cfg, torch.float64, T=1, B=3)
    _assert_close(_run(ours, x, hx), _run(ref, x, hx), torch.float64)
