"""The compiled kernel's register-blocked float32 path (csrc/lstm_tile.cpp) and its batch slices over
threads, against the reference and torch.nn.LSTM: shapes that are not multiples of the tile (16 units,
6 rows, 64 columns), H=1, B=1, odd I, and every feature with the batch split over two threads."""
import pytest
import torch

import lstmkit
from lstmkit.kernels import compiled


@pytest.fixture
def threads():
    """Run the body with torch.set_num_threads(n), restoring the count afterwards."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def _grads(module, x, hx, mask=None):
    x = x.detach().clone().requires_grad_(True)
    hx = tuple(h.detach().clone().requires_grad_(True) for h in hx)
    y, (h, c) = module(x, hx) if mask is None else module(x, hx, mask=mask)
    w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)  # a distinct gradient per element
    loss = (y * w).sum() + (h * 0.5).sum() - (c * 0.25).sum()
    return [y, h, c, *torch.autograd.grad(loss, [x, *hx, *module.parameters()])]


def _close(ours, theirs, tol):
    for a, b in zip(ours, theirs, strict=True):
        scale = max(1.0, float(b.detach().abs().max()))
        assert float((a - b).detach().abs().max()) <= tol * scale


def _modules(I, H, dtype, **cfg):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, dtype=dtype, **{k: v for k, v in cfg.items() if k != "recurrent_dropout"})
    mods = {}
    for engine in ("compiled", "reference"):
        mods[engine] = lstmkit.nn.LSTM(I, H, dtype=dtype, engine=engine, **cfg)
        mods[engine].load_state_dict(ref.state_dict())
    return ref, mods


def _inputs(I, H, T, B, D, dtype, P=0):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(T, B, I, generator=g, dtype=dtype),
            (torch.randn(D, B, P or H, generator=g, dtype=dtype), torch.randn(D, B, H, generator=g, dtype=dtype)))


@pytest.mark.parametrize("I,H,B", [(1, 1, 1), (3, 17, 7), (1, 50, 32), (7, 33, 13), (2, 16, 6), (5, 70, 1),
                                   (4, 64, 2), (6, 5, 19)])
@pytest.mark.parametrize("n_threads", (1, 2))
def test_tile_path_matches_torch_and_reference(I, H, B, n_threads, threads):
    threads(n_threads)
    ref, mods = _modules(I, H, torch.float32)
    x, hx = _inputs(I, H, 9, B, 1, torch.float32)
    expected = _grads(ref, x, hx)
    _close(_grads(mods["compiled"], x, hx), expected, 1e-5)
    _close(_grads(mods["reference"], x, hx), expected, 1e-5)
    with torch.inference_mode():
        y, (h, c) = mods["compiled"](x, hx)
    _close([y, h, c], expected[:3], 1e-5)


@pytest.mark.parametrize("dtype,tol", ((torch.float32, 1e-5), (torch.float64, 1e-10)))
@pytest.mark.parametrize("cfg", (dict(num_layers=2, bidirectional=True), dict(proj_size=3),
                                 dict(bidirectional=True, proj_size=4, bias=False)))
def test_batch_slices_on_two_threads_keep_masks_projections_and_recurrent_dropout(dtype, tol, cfg, threads):
    threads(2)
    T, B, I, H = 6, 21, 3, 19  # 21 rows: slices of 11 and 10 on two threads
    ref, mods = _modules(I, H, dtype, recurrent_dropout=0.3, **cfg)
    D = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    x, hx = _inputs(I, H, T, B, D, dtype, P=cfg.get("proj_size", 0))
    mask = torch.rand(T, B, generator=torch.Generator().manual_seed(3)) > 0.3
    for m in (None, mask):
        for training in (False, True):
            outs = []
            for mod in mods.values():
                mod.train(training)
                torch.manual_seed(5)  # the same recurrent-dropout masks for both
                outs.append(_grads(mod, x, hx, m))
            _close(outs[0], outs[1], tol)


def test_batch_slices_pass_gradcheck_in_float64(threads):
    threads(2)  # B=17: slices of 9 and 8 rows (float64 runs the BLAS path in each slice)
    torch.manual_seed(0)
    d = dict(dtype=torch.float64, requires_grad=True)
    T, B, Hd = 3, 17, 2
    args = [torch.randn(T, B, 2, **d), torch.randn(B, Hd, **d), torch.randn(B, Hd, **d),
            torch.randn(4 * Hd, 2, **d), torch.randn(4 * Hd, Hd, **d), torch.randn(4 * Hd, **d),
            torch.randn(4 * Hd, **d), None]
    assert torch.autograd.gradcheck(lambda *a: compiled._CompiledLSTM.apply(*a, False, None, None), args)


def test_auto_trains_on_compiled_up_to_s2_and_runs_forward_on_torchs_op():
    from lstmkit import kernels
    for B, H in ((32, 50), (64, 256)):  # S1, S2
        train = kernels.KernelConfig(hidden_size=H, batch=B, training=True)
        kernel, reason = kernels.select(train, "cpu")
        assert kernel.name == "compiled" and "slower to train than the compiled kernel" in reason
        with torch.no_grad():
            assert kernels.select(train, "cpu")[0].name == "native"
        assert kernels.select(kernels.KernelConfig(hidden_size=H, batch=B), "cpu")[0].name == "native"
    s3 = kernels.KernelConfig(hidden_size=1024, batch=64, training=True)
    assert kernels.select(s3, "cpu")[0].name == "native"
