"""The compiled kernel's GRU and simple RNN against torch.nn.GRU / torch.nn.RNN and the reference loop
(outputs, states, gradients of the input, h0 and every parameter), gradcheck of its hand-written
backward with masks and recurrent dropout, both GRU forms, relu and tanh, and auto's choice of it."""
import pytest
import torch
from test_rnn_gru import GRID, KINDS, H, I, _assert_close, _inputs, _pair, _run, _run_fn, _stack_fn
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit import kernels
from lstmkit.errors import KernelUnavailable
from lstmkit.kernels import compiled

FORMS = [("gru", True), ("gru", False), ("rnn_tanh", True), ("rnn_relu", True)]  # (cell, reset_after)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_compiled_matches_torch_over_grid(kind, dtype):
    for cfg in GRID:  # layers 1-2, both directions, with and without bias, batch_first both ways
        ref, ours = _pair(kind, cfg, "compiled", dtype)
        x, h0 = _inputs(cfg, dtype)
        _assert_close(_run(ours, x, h0), _run(ref, x, h0), dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_variable_length_matches_torch(kind):
    cfg = dict(num_layers=2, bidirectional=True, bias=True, batch_first=True)
    ref, ours = _pair(kind, cfg, "compiled", torch.float64)
    x, h0 = _inputs(cfg, torch.float64, T=6, B=4)
    packed = pack_padded_sequence(x, torch.tensor([3, 6, 1, 4]), batch_first=True, enforce_sorted=False)
    _assert_close(_run(ours, packed, h0), _run(ref, packed, h0), torch.float64)


@pytest.mark.parametrize("cell,reset_after", FORMS)
@pytest.mark.parametrize("masked,dropout", [(False, 0.0), (True, 0.0), (False, 0.4), (True, 0.4)])
def test_compiled_matches_reference_and_passes_gradcheck(cell, reset_after, masked, dropout):
    """Bidirectional stacks (the same recurrent-dropout masks in every run): compiled against reference
    at two layers, and gradcheck of the compiled backward at one small layer."""
    for size, check_grad in (((2, I, H, 4, 3), False), ((1, 3, 2, 3, 2), True)):  # (L, I, H, T, B)
        fn, inputs = _stack_fn(cell, reset_after, masked, dropout, *size)
        _assert_close(_run_fn(fn("compiled"), inputs), _run_fn(fn("reference"), inputs), torch.float64)
        if check_grad:
            assert torch.autograd.gradcheck(fn("compiled"), inputs, atol=1e-7)
        elif dropout:  # the dropout masks are really applied
            undropped, _ = _stack_fn(cell, reset_after, masked, 0.0, *size)
            assert not torch.allclose(fn("compiled")(*inputs)[0], undropped("compiled")(*inputs)[0])


def _modules(cell, reset_after, dtype, **kw):
    cls, extra = (lstmkit.nn.GRU, {"reset_after": reset_after}) if cell == "gru" else (
        lstmkit.nn.RNN, {"nonlinearity": cell.removeprefix("rnn_")})
    mods = {}
    for engine in ("compiled", "reference"):
        torch.manual_seed(0)
        mods[engine] = cls(I, H, dtype=dtype, engine=engine, **extra, **kw)
    mods["compiled"].load_state_dict(mods["reference"].state_dict())
    return mods


class _Masked(torch.nn.Module):
    """The module called with a fixed step mask, so `_run` can drive it."""

    def __init__(self, module, mask):
        super().__init__()
        self.module, self.mask = module, mask

    def forward(self, x, h0):
        return self.module(x, h0, mask=self.mask)


@pytest.mark.parametrize("cell,reset_after", FORMS)
def test_float32_with_masks_and_recurrent_dropout_matches_reference(cell, reset_after):
    T, B = 9, 4
    mods = _modules(cell, reset_after, torch.float32, num_layers=2, bidirectional=True, recurrent_dropout=0.3)
    x, h0 = _inputs(dict(batch_first=False, num_layers=2, bidirectional=True), torch.float32, T=T, B=B)
    right = torch.arange(T)[:, None] < torch.tensor([T, 2, 5, 1])[None, :]
    holes = torch.rand(T, B, generator=torch.Generator().manual_seed(3)) > 0.4
    for mask in (None, right, right.flip(0), holes):  # none, right-, left-padded, any pattern
        outs = []
        for m in mods.values():
            torch.manual_seed(5)  # the same recurrent-dropout masks for both
            outs.append(_run(_Masked(m.train(), mask), x, h0))
        _assert_close(outs[0], outs[1], torch.float32)


@pytest.mark.parametrize("cell,reset_after", FORMS)
def test_inference_without_autograd_gives_the_same_outputs(cell, reset_after):
    mods = _modules(cell, reset_after, torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(6, 3, I, dtype=torch.float64)
    with torch.no_grad():
        fast = mods["compiled"](x)
    _assert_close(fast, mods["reference"](x), torch.float64)
    _assert_close(fast, mods["compiled"](x), torch.float64)  # the autograd path


def test_keras_layers_run_on_the_compiled_kernel():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [0, 0, 1, 1, 1, 1]], dtype=torch.bool)
    for make in (lambda e: lstmkit.layers.GRU(5, return_sequences=True, engine=e, reset_after=False),
                 lambda e: lstmkit.layers.SimpleRNN(5, return_sequences=True, engine=e, activation="relu")):
        outs = []
        for engine in ("compiled", "reference"):
            torch.manual_seed(1)
            layer = lstmkit.layers.Bidirectional(make(engine))
            layer.build((None, 6, 4))
            layer.double()
            outs.append(layer(x, mask=mask))
        assert torch.allclose(outs[0], outs[1], atol=1e-12)


def _chosen(**kw):
    return kernels.select(kernels.KernelConfig(**kw), "cpu")


@pytest.mark.parametrize("cell", ("gru", "rnn_tanh", "rnn_relu"))
def test_auto_chooses_compiled_on_the_cpu_and_says_why(cell):
    for kw in (dict(hidden_size=50, batch=32), dict(hidden_size=256, batch=1), dict(hidden_size=256, batch=64),
               dict(hidden_size=256, batch=64, training=True), dict(hidden_size=50, masked=True, training=True),
               dict(hidden_size=256, recurrent_dropout=0.25, training=True),
               dict(hidden_size=1024, training=True), dict(hidden_size=256, packed=True, training=True)):
        kernel, reason = _chosen(cell=cell, **kw)
        assert kernel.name == "compiled", kw
    assert "native: slower than the compiled kernel" in _chosen(cell=cell, hidden_size=50)[1]
    assert _chosen(cell=cell, hidden_size=50, capture="compile")[0].name != "compiled"
    assert _chosen(cell=cell, hidden_size=256, packed=True)[0].name == "native"  # it skips finished rows
    assert lstmkit.nn.GRU(I, 50).select_kernel()[0].name == "compiled"  # modules pass their H


def test_compiled_declines_under_capture_and_jit_trace():
    with pytest.raises(KernelUnavailable, match="torch.compile"):
        kernels.select(kernels.KernelConfig(cell="gru", capture="compile"), "cpu", "compiled")
    gru = lstmkit.nn.GRU(I, H)
    traced = torch.jit.trace(gru, (torch.randn(4, 2, I),), check_trace=False)
    x = torch.randn(5, 3, I)
    _assert_close(traced(x), gru(x), torch.float32)  # traced through torch's op, replayed at a new shape


def test_failed_build_falls_back_with_the_reason_in_explain(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "_state", {})  # as in a fresh process
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    gru = lstmkit.nn.GRU(I, H, reset_after=False)  # torch's op cannot run it: fused does
    assert gru(torch.randn(3, 2, I))[0].shape == (3, 2, H)
    text = lstmkit.explain(gru)
    assert "fused" in text and "compiled: could not be built or loaded" in text and "no-such-c++" in text
    with pytest.raises(KernelUnavailable, match="could not be built"):
        lstmkit.nn.RNN(I, H, engine="compiled")(torch.randn(3, 1, I))


@pytest.mark.parametrize("make", [lambda: lstmkit.nn.GRU(3, 8, engine="compiled"),
                                  lambda: lstmkit.nn.RNN(3, 8, engine="compiled"),
                                  lambda: lstmkit.nn.LSTM(3, 8, engine="compiled"),
                                  lambda: lstmkit.nn.LSTM(3, 8, peephole=True, engine="compiled")])
def test_compiled_backward_refuses_create_graph_instead_of_dropping_second_order_terms(make):
    """The C++ backward is first order: with create_graph=True its gradient would come back as a
    constant, so a gradient penalty built on it would silently contribute nothing."""
    from lstmkit.errors import LstmkitError
    m = make()
    x = torch.randn(4, 2, 3, requires_grad=True)
    y = m(x)[0]
    with pytest.raises(LstmkitError, match="create_graph"):
        torch.autograd.grad(y.sum(), x, create_graph=True)
    y = m(x)[0]
    assert torch.autograd.grad(y.sum(), x)[0].shape == x.shape  # first order as before
