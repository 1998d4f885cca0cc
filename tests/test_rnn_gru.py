"""lstmkit.nn.RNN / GRU / RNNCell / GRUCell: every kernel against torch's module holding the same weights
(outputs, final states, gradients of the input, h0 and every parameter), and the fused kernels' hand-written
backward passes checked by gradcheck, masks and recurrent dropout included."""
import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit import kernels
from lstmkit.errors import KernelUnavailable, LstmkitError
from lstmkit.kernels import compiled

I, H = 5, 6
KINDS = {"gru": (torch.nn.GRU, lstmkit.nn.GRU, {}),
         "rnn_tanh": (torch.nn.RNN, lstmkit.nn.RNN, {"nonlinearity": "tanh"}),
         "rnn_relu": (torch.nn.RNN, lstmkit.nn.RNN, {"nonlinearity": "relu"})}
ENGINES = ("native", "fused", "reference")
GRID = [dict(num_layers=n, bidirectional=bd, bias=b, batch_first=bf)
        for n, bd, b, bf in itertools.product((1, 2), (False, True), (True, False), (False, True))]


def _pair(kind, cfg, engine, dtype):
    torch_cls, ours_cls, extra = KINDS[kind]
    torch.manual_seed(0)
    ref = torch_cls(I, H, dtype=dtype, **extra, **cfg)
    ours = ours_cls(I, H, dtype=dtype, engine=engine, **extra, **cfg)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _run(module, x, h0):
    if hasattr(x, "batch_sizes"):  # PackedSequence: differentiate with respect to its data
        x = x._replace(data=x.data.detach().clone().requires_grad_(True))
        x_leaf = x.data
    else:
        x = x_leaf = x.detach().clone().requires_grad_(True)
    h0 = h0.detach().clone().requires_grad_(True)
    y, h = module(x, h0)
    y_data = y.data if hasattr(y, "batch_sizes") else y
    # Weighted sums so every output element gets a distinct gradient.
    loss = (y_data * torch.linspace(-1, 1, y_data.numel(), dtype=y_data.dtype).view_as(y_data)).sum()
    loss = loss + (h * 0.5).sum()
    grads = torch.autograd.grad(loss, [x_leaf, h0, *module.parameters()])
    return [y_data, h, *grads]


def _inputs(cfg, dtype, T=7, B=3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, I) if cfg["batch_first"] else (T, B, I), generator=g, dtype=dtype)
    h0 = torch.randn(cfg["num_layers"] * (2 if cfg["bidirectional"] else 1), B, H, generator=g, dtype=dtype)
    return x, h0


def _assert_close(ours, theirs, dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for a, b in zip(ours, theirs, strict=True):
        scale = max(1.0, float(b.detach().abs().max()))
        assert a.shape == b.shape
        assert float((a - b).detach().abs().max()) <= tol * scale


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_kernels_match_torch_over_grid(kind, engine, dtype):
    for cfg in GRID:
        ref, ours = _pair(kind, cfg, engine, dtype)
        x, h0 = _inputs(cfg, dtype)
        _assert_close(_run(ours, x, h0), _run(ref, x, h0), dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("engine", ENGINES)
def test_packed_variable_length_matches_torch(kind, engine):
    cfg = dict(num_layers=2, bidirectional=True, bias=True, batch_first=True)
    ref, ours = _pair(kind, cfg, engine, torch.float64)
    x, h0 = _inputs(cfg, torch.float64, T=6, B=4)
    packed = pack_padded_sequence(x, torch.tensor([3, 6, 1, 4]), batch_first=True, enforce_sorted=False)
    ours_out, ref_out = _run(ours, packed, h0), _run(ref, packed, h0)
    _assert_close(ours_out, ref_out, torch.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_and_default_state_match_torch(kind):
    cfg = dict(num_layers=2, bidirectional=True, bias=True, batch_first=False)
    ref, ours = _pair(kind, cfg, "auto", torch.float64)
    x = torch.randn(4, I, dtype=torch.float64)
    _assert_close(list(ours(x)), list(ref(x)), torch.float64)
    h0 = torch.randn(4, H, dtype=torch.float64)
    _assert_close(list(ours(x, h0)), list(ref(x, h0)), torch.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_loads_both_ways_strict(kind):
    cfg = dict(num_layers=2, bidirectional=True, bias=True, batch_first=False)
    ref, ours = _pair(kind, cfg, "auto", torch.float32)
    ours2 = KINDS[kind][1](I, H, **KINDS[kind][2], **cfg)
    ref.load_state_dict(ours2.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for k, v in ours2.state_dict().items():
        assert torch.equal(ref.state_dict()[k], v)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_steps_keep_the_state(kind):
    """A left-padded batch: padded steps output zeros and h_n equals running the unpadded sequence."""
    cfg = dict(num_layers=1, bidirectional=False, bias=True, batch_first=True)
    outs = []
    for engine in ("fused", "reference"):
        _, ours = _pair(kind, cfg, engine, torch.float64)
        x = torch.randn(2, 5, I, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
        y, h = ours(x, mask=mask)
        _, h_short = ours(x[:1, 2:])
        assert torch.allclose(h[:, :1], h_short, atol=1e-12)
        assert torch.all(y[0, :2] == 0)
        outs.append((y, h))
    _assert_close(outs[0], outs[1], torch.float64)


@pytest.mark.parametrize("cell,reset_after", [("gru", True), ("gru", False), ("rnn_tanh", True),
                                              ("rnn_relu", True)])
@pytest.mark.parametrize("masked,dropout", [(False, 0.0), (True, 0.0), (False, 0.4), (True, 0.4)])
def test_fused_matches_reference_and_passes_gradcheck(cell, reset_after, masked, dropout):
    """Bidirectional stacks with masks and variational recurrent dropout (the same masks in every run):
    fused against reference at two layers, and gradcheck of the fused backward at one small layer."""
    for size, check_grad in (((2, I, H, 4, 3), False), ((1, 3, 2, 3, 2), True)):  # (L, I, H, T, B)
        fn, inputs = _stack_fn(cell, reset_after, masked, dropout, *size)
        _assert_close(_run_fn(fn("fused"), inputs), _run_fn(fn("reference"), inputs), torch.float64)
        if check_grad:
            assert torch.autograd.gradcheck(fn("fused"), inputs, atol=1e-7)
        elif dropout:  # the dropout masks are really applied
            undropped, _ = _stack_fn(cell, reset_after, masked, 0.0, *size)
            assert not torch.allclose(fn("fused")(*inputs)[0], undropped("fused")(*inputs)[0])


def _stack_fn(cell, reset_after, masked, dropout, L, features, hidden, T, B):
    """(engine -> f(x, h0, *weights) -> (y, h_n), the inputs) for a bidirectional L-layer stack."""
    g = torch.Generator().manual_seed(2)
    G = 3 if cell == "gru" else 1
    rand = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True)  # noqa: E731
    flat = [rand(G * hidden, features if k < 2 else 2 * hidden) for k in range(2 * L)]
    flat = [t for w_ih in flat for t in (w_ih, rand(G * hidden, hidden), rand(G * hidden), rand(G * hidden))]
    mask = (torch.rand(T, B, generator=g) > 0.3) if masked else None
    config = kernels.KernelConfig(num_layers=L, bidirectional=True, recurrent_dropout=dropout,
                                  masked=masked, dtype=torch.float64, cell=cell, reset_after=reset_after)

    def fn(engine):
        def run(x, h0, *flat):
            ws = [lstmkit.cells.LayerWeights(*flat[4 * k:4 * k + 4]) for k in range(2 * L)]
            torch.manual_seed(7)  # the same dropout masks on every call
            return kernels.KERNELS[engine].run(x, h0, ws, config, True, mask=mask)
        return run
    return fn, (rand(T, B, features), rand(2 * L, B, hidden), *flat)


def _run_fn(fn, inputs):
    y, h = fn(*inputs)
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + (h * 0.5).sum()
    return [y, h, *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize("kind", ("gru", "rnn_tanh", "rnn_relu"))
def test_cells_match_torch(kind):
    torch_cls, ours_cls = ((torch.nn.GRUCell, lstmkit.nn.GRUCell) if kind == "gru"
                           else (torch.nn.RNNCell, lstmkit.nn.RNNCell))
    extra = {} if kind == "gru" else {"nonlinearity": kind[4:]}
    for bias in (True, False):
        torch.manual_seed(0)
        ref = torch_cls(I, H, bias=bias, dtype=torch.float64, **extra)
        ours = ours_cls(I, H, bias=bias, dtype=torch.float64, **extra)
        ours.load_state_dict(ref.state_dict(), strict=True)
        x, h = torch.randn(3, I, dtype=torch.float64), torch.randn(3, H, dtype=torch.float64)
        for args in ((x,), (x, h), (x[0],), (x[0], h[0])):
            a = [t.clone().requires_grad_(True) for t in args]
            b = [t.clone().requires_grad_(True) for t in args]
            ya, yb = ours(*a), ref(*b)
            ga = torch.autograd.grad(ya.sum(), [*a, *ours.parameters()])
            gb = torch.autograd.grad(yb.sum(), [*b, *ref.parameters()])
            _assert_close([ya, *ga], [yb, *gb], torch.float64)


def test_gru_reset_before_cell_matches_the_stack():
    cell = lstmkit.nn.GRUCell(I, H, reset_after=False, dtype=torch.float64)
    stack = lstmkit.nn.GRU(I, H, reset_after=False, dtype=torch.float64, engine="fused")
    stack.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()}, strict=True)
    x = torch.randn(4, 2, I, dtype=torch.float64)
    h = torch.zeros(2, H, dtype=torch.float64)
    for x_t in x:
        h = cell(x_t, h)
    assert torch.allclose(stack(x)[1][0], h, atol=1e-12)


def test_select_and_explain_say_why(monkeypatch):
    monkeypatch.setattr(compiled, "_state", {"error": "not built here"})  # the order behind the compiled kernel
    gru = lstmkit.nn.GRU(I, H, reset_after=False)
    kernel, reason = gru.select_kernel()
    assert kernel.name == "fused" and "reset-after" in reason
    with pytest.raises(KernelUnavailable, match="reset-after"):
        lstmkit.nn.GRU(I, H, reset_after=False, engine="native")(torch.randn(2, 1, I))
    text = lstmkit.explain(torch.nn.Sequential(lstmkit.nn.RNN(I, H), lstmkit.nn.GRU(H, H, recurrent_dropout=.1)),
                           masked=True)
    assert text.count("fused") >= 2 and "step mask" in text


def test_auto_prefers_torch_op_except_where_fused_trained_faster(monkeypatch):
    monkeypatch.setattr(compiled, "_state", {"error": "not built here"})  # the order behind the compiled kernel

    def chosen(**kw):
        return kernels.select(kernels.KernelConfig(**kw), "cpu")[0].name
    for cell in ("gru", "rnn_tanh", "rnn_relu"):
        assert chosen(cell=cell, hidden_size=256, training=True) == "native"
        assert chosen(cell=cell, hidden_size=1024) == "native"  # inference
        assert chosen(cell=cell, hidden_size=1024, training=True) == "fused"
        assert chosen(cell=cell, hidden_size=256, training=True, packed=True) == "fused"
        assert chosen(cell=cell, masked=True) == "fused"
    assert lstmkit.nn.GRU(I, 1024).select_kernel()[0].name == "fused"  # modules pass their H
    assert lstmkit.layers.GRU(1024, input_shape=(None, I)).select_kernel()[0].name == "fused"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(LstmkitError, match="nonlinearity"):
        lstmkit.nn.RNN(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        lstmkit.nn.GRU(I, 0)
    with pytest.raises(ValueError, match="hx: expected shape"):
        lstmkit.nn.GRU(I, H)(torch.randn(4, 2, I), torch.zeros(1, 3, H))
    with pytest.raises(ValueError, match="input"):
        lstmkit.nn.RNN(I, H)(torch.randn(4, 2, I + 1))
