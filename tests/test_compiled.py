"""The compiled kernel against torch.nn.LSTM and the reference (outputs, states, gradients), its
gradcheck, auto's choice of it, and the fallback when it cannot be built."""
import pytest
import torch
from test_engine import GRID, I, H, _assert_close, _inputs, _pair, _run

import lstmkit
from lstmkit import kernels
from lstmkit.kernels import compiled


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_compiled_matches_torch_over_grid(dtype):
    for cfg in GRID:
        ref, ours = _pair(cfg, "compiled", dtype)
        x, hx = _inputs(cfg, dtype)
        _assert_close(_run(ours, x, hx), _run(ref, x, hx), dtype)


def _masks(T, B):
    right = torch.arange(T)[:, None] < torch.tensor([T, 2, 5, 1][:B])[None, :]  # (T, B) right-padded
    left = right.flip(0)  # left-padded
    holes = torch.rand(T, B, generator=torch.Generator().manual_seed(3)) > 0.4  # any pattern
    return right, left, holes


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("cfg", (dict(num_layers=2, bidirectional=True, proj_size=0, bias=True),
                                 dict(num_layers=1, bidirectional=True, proj_size=3, bias=False),
                                 dict(num_layers=2, bidirectional=False, proj_size=2, bias=True)))
def test_compiled_matches_reference_with_masks_and_recurrent_dropout(dtype, cfg):
    T, B = 7, 4
    cfg = dict(cfg, batch_first=False)
    x, hx = _inputs(cfg, dtype, T=T, B=B)
    mods = {}
    for engine in ("compiled", "reference"):
        torch.manual_seed(0)
        mods[engine] = lstmkit.nn.LSTM(I, H, dtype=dtype, engine=engine, recurrent_dropout=0.3, **cfg)
    mods["compiled"].load_state_dict(mods["reference"].state_dict())
    for mask in (None, *_masks(T, B)):
        for training in (False, True):
            outs = []
            for m in mods.values():
                m.train(training)
                torch.manual_seed(5)  # the same recurrent-dropout masks for both
                outs.append(_run(_Masked(m, mask), x, hx))
            _assert_close(outs[0], outs[1], dtype)


class _Masked(torch.nn.Module):
    """The module called with a fixed step mask, so `_run` can drive it."""

    def __init__(self, lstm, mask):
        super().__init__()
        self.lstm, self.mask = lstm, mask

    def forward(self, x, hx):
        return self.lstm(x, hx, mask=self.mask)


def test_compiled_layer_passes_gradcheck_with_projection_mask_and_recurrent_dropout():
    torch.manual_seed(0)
    T, B, Hd, P = 5, 3, 4, 2
    d = dict(dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    for proj in (False, True):
        out = P if proj else Hd
        args = [torch.randn(T, B, 3, **d), torch.randn(B, out, **d), torch.randn(B, Hd, **d),
                torch.randn(4 * Hd, 3, **d), torch.randn(4 * Hd, out, **d), torch.randn(4 * Hd, **d),
                torch.randn(4 * Hd, **d), torch.randn(P, Hd, **d) if proj else None]
        hmask = torch.tensor([[2.0, 0] + [2.0] * (out - 2)] * B, dtype=torch.float64)
        for reverse in (False, True):
            for m, hm in ((None, None), (mask, hmask)):
                fn = lambda *a: compiled._CompiledLSTM.apply(*a, reverse, m, hm)  # noqa: E731
                assert torch.autograd.gradcheck(fn, args)


def test_inference_without_autograd_gives_the_same_outputs():
    cfg = dict(num_layers=2, bidirectional=True, proj_size=3, bias=True, batch_first=False)
    _, lstm = _pair(cfg, "compiled", torch.float64)
    x, hx = _inputs(cfg, torch.float64)
    with_graph = lstm(x.requires_grad_(), hx)
    with torch.inference_mode():
        without = lstm(x.detach(), hx)
    assert with_graph[0].grad_fn is not None
    for a, b in zip((with_graph[0], *with_graph[1]), (without[0], *without[1])):
        assert torch.equal(a.detach(), b)


def test_compiled_module_passes_gradcheck():
    torch.manual_seed(0)
    for cfg in (dict(num_layers=2), dict(bidirectional=True, proj_size=2), dict(bias=False)):
        lstm = lstmkit.nn.LSTM(3, 4, engine="compiled", dtype=torch.float64, **cfg)
        x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
        names = [n for n, _ in lstm.named_parameters()]

        def f(x, *ps):
            y, (h, c) = torch.func.functional_call(lstm, dict(zip(names, ps)), (x,))
            return y, h, c
        assert torch.autograd.gradcheck(f, (x, *[p.detach().clone().requires_grad_() for p in lstm.parameters()]))


def test_keras_layers_run_on_the_compiled_kernel():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [0, 0, 1, 1, 1, 1]], dtype=torch.bool)
    outs = []
    for engine in ("compiled", "reference"):
        torch.manual_seed(1)
        layer = lstmkit.layers.Bidirectional(lstmkit.layers.LSTM(5, return_sequences=True, engine=engine))
        layer.build((None, 6, 4))
        layer.double()
        outs.append(layer(x, mask=mask))
    assert torch.allclose(outs[0], outs[1], atol=1e-12)


def test_auto_chooses_compiled_where_it_measured_faster_and_says_why():
    small = kernels.KernelConfig(hidden_size=256, batch=1)  # S4: streaming, one sequence
    kernel, reason = kernels.select(small, "cpu")
    assert kernel.name == "compiled" and "native: slower than the compiled kernel" in reason
    assert kernels.select(kernels.KernelConfig(hidden_size=256, batch=64), "cpu")[0].name == "native"
    masked = kernels.KernelConfig(hidden_size=50, batch=32, masked=True)
    assert kernels.select(masked, "cpu")[0].name == "compiled"  # torch's op cannot; compiled beats fused
    big = kernels.KernelConfig(hidden_size=1024, batch=64, masked=True)  # oneDNN matmuls in fused win
    assert kernels.select(big, "cpu")[0].name == "fused"
    lstm = lstmkit.nn.LSTM(I, H, engine="auto")
    assert lstm(torch.randn(4, 1, I))[0].shape == (4, 1, H)


def test_compiled_refuses_what_it_does_not_run():
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="float32 and float64"):
        kernels.select(kernels.KernelConfig(dtype=torch.bfloat16), "cpu", "compiled")
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="CPU only"):
        kernels.select(kernels.KernelConfig(), "meta", "compiled")


def test_failed_build_falls_back_with_the_reason_in_explain(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "_state", {})  # as in a fresh process
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    assert "not found" in compiled.load_error()
    kernel, reason = kernels.select(kernels.KernelConfig(hidden_size=8, batch=1), "cpu")
    assert kernel.name == "native" and "compiled: could not be built or loaded" in reason
    lstm = lstmkit.nn.LSTM(I, H, recurrent_dropout=0.2)
    y, _ = lstm(torch.randn(3, 1, I))  # batch 1 with recurrent dropout: compiled would run; fused does
    assert y.shape == (3, 1, H)
    text = lstmkit.explain(lstm)
    assert "fused" in text and "compiled kernel unavailable" in text and "no-such-c++" in text
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="could not be built"):
        lstmkit.nn.LSTM(I, H, engine="compiled")(torch.randn(3, 1, I))


def test_failing_compiler_reports_its_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", "g++ -include no_such_header.h")
    with pytest.raises(compiled.BuildError, match="no_such_header.h"):
        compiled.build(cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.so"))  # no half-written library left behind


def test_cached_library_is_keyed_by_source_and_torch_version(monkeypatch, tmp_path):
    first = compiled.library_path(tmp_path)
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert compiled.library_path(tmp_path) != first
