"""The compiled variants kernel against its reference twin and the fused kernel (outputs, states,
gradients of every parameter and input), gradcheck of its C++ backward, and auto's choice of it."""
import pytest
import torch
from test_variants import SPECS, I, H, _assert_close, _run

import lstmkit
from lstmkit import kernels
from lstmkit.cells import activations
from lstmkit.kernels import compiled, compiled_variants, fused_variants


def _trio(options, dtype=torch.float64, **kw):
    """The same weights on the compiled, fused and reference kernels."""
    torch.manual_seed(0)
    mods = {e: lstmkit.nn.LSTM(I, H, dtype=dtype, engine=e, **options, **kw) for e in ("compiled", "fused", "reference")}
    with torch.no_grad():  # away from the initial values (zero peepholes, unit gains) so every term counts
        for p in mods["compiled"].parameters():
            p.add_(0.3 * torch.randn_like(p))
    for m in mods.values():
        m.load_state_dict(mods["compiled"].state_dict())
    return mods


def _inputs(T=6, B=3, L=4, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, I, generator=g, dtype=dtype)
    hx = tuple(torch.randn(L, B, H, generator=g, dtype=dtype) for _ in range(2))
    return x, hx, torch.rand(T, B, generator=g) > 0.3


def _assert_as_accurate(ours32, theirs32, ref64):
    """float32: within 1e-5 of scale of the float64 reference, or within three times the float32
    reference's own error. Layer norm divides by small standard deviations, which amplifies rounding: there
    the float32 reference, fused and compiled kernels (each summing in its own order) land at 1-3x one
    another's error from the float64 values."""
    for a, r, t in zip(ours32, theirs32, ref64, strict=True):
        scale = max(1.0, float(t.detach().abs().max()))
        own = float((r.double() - t).detach().abs().max())
        assert float((a.double() - t).detach().abs().max()) <= max(1e-5 * scale, 3 * own)


@pytest.mark.parametrize("options", SPECS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_compiled_variant_matches_reference_and_fused(options, dtype):
    """Two layers, bidirectional, recurrent dropout; eval, training, training with a mask."""
    x, hx, holes = _inputs()
    for training, mask in ((False, None), (True, None), (True, holes)):
        mods = _trio(options, num_layers=2, bidirectional=True, recurrent_dropout=0.25)
        for m in mods.values():
            m.train(training)
        ref64 = _run(mods["reference"], x, hx, mask)  # the same seed: the same dropout and zoneout masks
        if dtype == torch.float64:
            _assert_close(_run(mods["compiled"], x, hx, mask), ref64, dtype)
            _assert_close(_run(mods["compiled"], x, hx, mask), _run(mods["fused"], x, hx, mask), dtype)
            continue
        x32, hx32 = x.float(), tuple(h.float() for h in hx)
        _assert_as_accurate(_run(mods["compiled"].float(), x32, hx32, mask),
                            _run(mods["reference"].float(), x32, hx32, mask), ref64)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_every_activation_matches_reference(name):
    """Each activation as the cell's activation and, in a second run, as its recurrent activation.
    For exponential, layer norm keeps the arguments bounded (e^(e^x) overflows float64 otherwise)."""
    x, hx, holes = _inputs(T=5, B=2, L=1)
    bounded = name == "exponential"
    for options in (dict(activation=name, peephole=True, layer_norm=bounded),
                    dict(recurrent_activation=name, cifg=True, layer_norm=bounded)):
        mods = _trio(options)
        for mask in (None, holes):
            _assert_close(_run(mods["compiled"].train(), x, hx, mask), _run(mods["reference"].train(), x, hx, mask),
                          torch.float64)


@pytest.mark.parametrize("options", SPECS + [dict(activation="mish", recurrent_activation="hard_sigmoid", cifg=True)],
                         ids=lambda o: ",".join(o))
def test_gradcheck_compiled_backward(options):
    """The C++ backward against finite differences: masks, recurrent dropout, zoneout masks, both directions."""
    spec = lstmkit.nn.variants.parse(**options)
    G, T, B = len(spec.gates), 4, 2
    g = torch.Generator().manual_seed(2)

    def t(*shape, scale=0.5, shift=0.0):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64) + shift).requires_grad_(True)
    params = [t(2 if spec.cifg else 3, H) if spec.peephole else None]
    params += [t(G * H, shift=1.0), t(H, shift=1.0), t(H)] if spec.layer_norm else [None] * 3
    mask = torch.tensor([[1, 1], [0, 1], [1, 0], [1, 1]], dtype=torch.bool)
    hmask = torch.rand(B, H, generator=g, dtype=torch.float64).gt(0.2).double() / 0.8
    d = [torch.rand(T, B, H, generator=g, dtype=torch.float64).lt(z).double() if z else None
         for z in (spec.zoneout_c, spec.zoneout_h)]
    present = [k for k, p in enumerate(params) if p is not None]
    for reverse in (False, True):
        def f(xw, h0, c0, w_hh, *given):
            full = list(params)
            for k, v in zip(present, given):
                full[k] = v
            return compiled_variants.CompiledVariant.apply(xw, h0, c0, w_hh, *full, mask, hmask, *d, reverse, spec)
        args = [t(T, B, G * H), t(B, H), t(B, H), t(G * H, H), *(params[k] for k in present)]
        assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7)


def test_zoneout_at_inference_and_no_grad_path():
    """Eval zoneout uses the expectation z (as the reference); under no_grad no autograd node is made,
    and the outputs equal the differentiable call's; a caller's xw is not overwritten."""
    mods = _trio(dict(zoneout=(0.4, 0.3), layer_norm=True, peephole=True), num_layers=2)
    x, hx, holes = _inputs(L=2)
    for m in mods.values():
        m.eval()
    with torch.no_grad():
        y, (h, c) = mods["compiled"](x, hx, mask=holes)
        y_ref, (h_ref, c_ref) = mods["reference"](x, hx, mask=holes)
    assert y.grad_fn is None
    _assert_close([y, h, c], [y_ref, h_ref, c_ref], torch.float64)
    _assert_close(_run(mods["compiled"], x, hx, holes)[:3], [y, h, c], torch.float64)
    spec = lstmkit.nn.variants.parse(peephole=True)
    xw = torch.randn(3, 2, 4 * H, dtype=torch.float64)
    before = xw.clone()
    compiled_variants.CompiledVariant.apply(xw, hx[0][0, :2], hx[1][0, :2], torch.randn(4 * H, H, dtype=torch.float64),
                                            torch.randn(3, H, dtype=torch.float64), None, None, None, None, None,
                                            None, None, False, spec)
    assert torch.equal(xw, before)


def test_packed_input_and_keras_layer_run_on_the_compiled_kernel():
    from torch.nn.utils.rnn import pack_padded_sequence
    mods = _trio(dict(peephole=True, cifg=True, zoneout=0.2), batch_first=True)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), batch_first=True, enforce_sorted=False)
    (y, (h, c)), (y_ref, (h_ref, c_ref)) = mods["compiled"].eval()(packed), mods["reference"].eval()(packed)
    _assert_close([y.data, h, c], [y_ref.data, h_ref, c_ref], torch.float64)
    layer = lstmkit.layers.LSTM(H, layer_norm=True, return_sequences=True)
    assert layer(torch.randn(2, 4, I)).shape == (2, 4, H)
    assert layer.select_kernel()[0] is compiled_variants


def test_auto_chooses_compiled_for_variants_on_the_cpu_and_says_why():
    config = kernels.KernelConfig(peephole=True, hidden_size=H, batch=2, training=True)
    kernel, reason = kernels.select(config, "cpu")
    assert kernel is compiled_variants and reason.startswith("compiled:") and "slower than the compiled" in reason
    text = lstmkit.explain(lstmkit.nn.LSTM(I, H, layer_norm=True), file=None)
    assert "compiled: fastest" in text
    for capture, fallback in (("compile", "reference"), ("onnx", None)):  # torch.compile / export: declines
        why = compiled_variants.unsupported(kernels.KernelConfig(layer_norm=True, capture=capture), "cpu")
        assert why and ("reference loop" in why if capture == "compile" else "ONNX" in why)
    kernel, _ = kernels.select(kernels.KernelConfig(layer_norm=True, capture="compile"), "cpu")
    assert kernel.name == "reference"
    assert kernels.select(kernels.KernelConfig(peephole=True, proj_size=2), "cpu")[0] is compiled_variants
    assert "CPU only" in compiled_variants.unsupported(kernels.KernelConfig(peephole=True), "meta")
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="bfloat16"):
        kernels.select(kernels.KernelConfig(peephole=True, dtype=torch.bfloat16), "cpu", engine="compiled")


def test_failed_build_falls_back_to_fused_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "_state", {})  # as in a fresh process
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    kernel, reason = kernels.select(kernels.KernelConfig(cifg=True, hidden_size=H, batch=2), "cpu")
    assert kernel is fused_variants and "compiled: could not be built or loaded" in reason
    y, _ = lstmkit.nn.LSTM(I, H, cifg=True)(torch.randn(3, 2, I))
    assert y.shape == (3, 2, H)
    with pytest.raises(lstmkit.errors.KernelUnavailable, match="could not be built"):
        lstmkit.nn.LSTM(I, H, cifg=True, engine="compiled")(torch.randn(3, 1, I))
