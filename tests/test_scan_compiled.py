"""The compiled minLSTM / minGRU scan (`kernels/scan_compiled.py`): its hand-written backward, extreme
gates over long sequences, packed input, and how `kernels.select` chooses it."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit import kernels
from lstmkit.kernels import compiled, scan_compiled

CLASSES = (lstmkit.nn.MinLSTM, lstmkit.nn.MinGRU)


@pytest.mark.parametrize("lstm", (True, False))
@pytest.mark.parametrize("reverse", (False, True))
@pytest.mark.parametrize("masked", (False, True))
def test_hand_written_backward_passes_gradcheck(lstm, reverse, masked):
    g = torch.Generator().manual_seed(1)
    T, B, H = 6, 2, 3
    k = (torch.randn(T, B, (3 if lstm else 2) * H, generator=g, dtype=torch.float64) * 2).requires_grad_()
    h0 = torch.randn(B, H, generator=g, dtype=torch.float64).requires_grad_()
    mask = torch.tensor([[1, 0], [1, 1], [0, 1], [1, 1], [1, 1], [1, 0]], dtype=torch.bool) if masked else None
    assert torch.autograd.gradcheck(lambda k, h0: scan_compiled.scan(k, h0, mask, lstm, reverse)[:2], (k, h0))


def _run(module, x, h0):
    x, h0 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    y, h = module(x, h0)
    (y.sum() + h.sum()).backward()
    return [t.detach() for t in (y, h, x.grad, h0.grad, *(p.grad for p in module.parameters()))]


@pytest.mark.parametrize("cls", CLASSES)
def test_extreme_gates_over_long_sequences_stay_finite(cls):
    """Gate pre-activations up to several hundred, where float32's sigmoid underflows and the
    ordinary-space sequential form divides 0 by 0 (minLSTM): the compiled scan stays finite in float32
    and agrees with the float64 sequential form, which still represents these gates."""
    torch.manual_seed(0)
    fast = cls(4, 6, engine="compiled")
    with torch.no_grad():
        fast.weight_ih_l0.mul_(200.0)
    seq64 = cls(4, 6, engine="reference", dtype=torch.float64)
    seq64.load_state_dict(fast.state_dict())
    fast64 = cls(4, 6, engine="compiled", dtype=torch.float64)
    fast64.load_state_dict(fast.state_dict())
    x, h0 = torch.randn(2000, 2, 4), torch.randn(1, 2, 6)
    k = torch.nn.functional.linear(x, fast.weight_ih_l0, fast.bias_ih_l0).detach()
    assert 100 < float(k.abs().max()) < 700  # beyond float32's exp range, within float64's
    ref = _run(seq64, x.double(), h0.double())
    for got, tol in ((_run(fast, x, h0), 1e-4), (_run(fast64, x.double(), h0.double()), 1e-10)):
        for a, b in zip(got, ref, strict=True):
            assert torch.isfinite(a).all() and torch.isfinite(b).all()
            assert float((a.double() - b).abs().max()) <= tol * max(1.0, float(b.abs().max()))


@pytest.mark.parametrize("cls", CLASSES)
def test_packed_input_matches_the_sequential_form(cls):
    torch.manual_seed(0)
    fast, seq = cls(3, 5, engine="compiled"), cls(3, 5, engine="reference")
    seq.load_state_dict(fast.state_dict())
    x = torch.randn(7, 3, 3)
    packed = pack_padded_sequence(x, torch.tensor([7, 4, 2]), enforce_sorted=False)
    ya, ha = fast(packed)
    yb, hb = seq(packed)
    torch.testing.assert_close(ya.data, yb.data, rtol=0, atol=1e-6)
    torch.testing.assert_close(ha, hb, rtol=0, atol=1e-6)


def test_auto_picks_the_compiled_scan_on_the_cpu_and_the_log_space_scan_under_capture():
    config = kernels.KernelConfig(cell="minlstm", training=True)
    kernel, reason = kernels.select(config, "cpu")
    assert kernel is scan_compiled and reason.startswith("compiled:")
    captured = kernels.KernelConfig(cell="mingru", capture="compile")
    kernel, reason = kernels.select(captured, "cpu")
    assert kernel.name == "fused" and "compiled: has no fake-tensor registration" in reason
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="engine='compiled'.*bfloat16"):
        kernels.select(kernels.KernelConfig(cell="minlstm", dtype=torch.bfloat16), "cpu", "compiled")


def test_without_the_library_auto_falls_back_to_the_log_space_scan(monkeypatch):
    monkeypatch.setattr(compiled, "_state", {"error": "could not be built or loaded (no compiler)"})
    kernel, reason = kernels.select(kernels.KernelConfig(cell="minlstm"), "cpu")
    assert kernel.name == "fused" and "compiled: could not be built" in reason
    y, h = lstmkit.nn.MinLSTM(2, 3)(torch.randn(4, 1, 2))
    assert y.shape == (4, 1, 3) and h.shape == (1, 1, 3)
