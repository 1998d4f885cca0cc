"""The LSTM variants with a projection (proj_size): the fused and compiled kernels against the reference,
gradcheck of both hand-written backwards with W_hr, parameter names and shapes, and the kernel choice."""
import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.kernels import compiled_variants, fused_variants, reference_variants
from test_variants import I, H, _assert_as_accurate, _assert_close, _pair, _run

P = 2
SPECS = [dict(peephole=True), dict(cifg=True), dict(layer_norm=True), dict(zoneout=(0.3, 0.2)),
         dict(activation="relu", recurrent_activation="hard_sigmoid"),
         dict(peephole=True, cifg=True, layer_norm=True, zoneout=(0.2, 0.1), activation="elu")]


@pytest.mark.parametrize("engine", ("fused", "compiled"))
@pytest.mark.parametrize("options", SPECS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_variant_kernel_with_projection_matches_reference(engine, options, dtype):
    """Outputs, states and the gradients of the input, h0, c0 and every parameter (W_hr included),
    2 layers both ways; in training with a step mask, recurrent dropout and zoneout masks."""
    g = torch.Generator().manual_seed(1)
    for training, masked in ((False, False), (True, True)):
        fused, ref = _pair(options, torch.float64, num_layers=2, bidirectional=True, recurrent_dropout=0.25,
                           proj_size=P, engine=engine)
        for m in (fused, ref):
            m.train(training)
        x = torch.randn(6, 3, I, generator=g, dtype=torch.float64)
        hx = (torch.randn(4, 3, P, generator=g, dtype=torch.float64),
              torch.randn(4, 3, H, generator=g, dtype=torch.float64))
        mask = torch.rand(6, 3, generator=g) > 0.3 if masked else None
        ref64 = _run(ref, x, hx, mask)
        assert ref64[0].shape == (6, 3, 2 * P) and ref64[1].shape == (4, 3, P) and ref64[2].shape == (4, 3, H)
        if dtype == torch.float64:
            _assert_close(_run(fused, x, hx, mask), ref64, dtype)
            continue
        x32, hx32 = x.float(), tuple(h.float() for h in hx)
        _assert_as_accurate(_run(fused.float(), x32, hx32, mask), _run(ref.float(), x32, hx32, mask), ref64)


@pytest.mark.parametrize("engine", ("fused", "compiled"))
def test_packed_input_and_inference_with_projection(engine):
    """Packed input; and eval under no_grad (zoneout's expectation, the compiled kernel's no-autograd path)."""
    from torch.nn.utils.rnn import pack_padded_sequence
    ours, ref = _pair(dict(peephole=True, layer_norm=True, zoneout=(0.3, 0.2)), torch.float64, batch_first=True,
                      proj_size=P, bidirectional=True, engine=engine)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), batch_first=True, enforce_sorted=False)
    outs = []
    for m in (ours, ref):  # training mode: the same seed, the same zoneout masks
        torch.manual_seed(4)
        outs.append(m(packed))
    (y, (h, c)), (y_ref, (h_ref, c_ref)) = outs
    assert y.data.shape[-1] == 2 * P
    _assert_close([y.data, h, c], [y_ref.data, h_ref, c_ref], torch.float64)
    with torch.no_grad():
        (y, (h, c)), (y_ref, (h_ref, c_ref)) = ours.eval()(x), ref.eval()(x)
    assert y.grad_fn is None
    _assert_close([y, h, c], [y_ref, h_ref, c_ref], torch.float64)


def _fused(*args):
    return fused_variants.FusedVariant.apply(*args)


def _compiled(*args):
    *rest, w_hr = args
    return compiled_variants.CompiledVariant.apply(*rest, False, w_hr)  # scratch=False: xw is copied


@pytest.mark.parametrize("function", (_fused, _compiled), ids=("fused", "compiled"))
@pytest.mark.parametrize("options", SPECS, ids=lambda o: ",".join(o))
def test_gradcheck_hand_written_backward_with_projection(function, options):
    """The fused (Python) and compiled (C++) backward, W_hr included, against finite differences: step
    mask, recurrent dropout (B, P) and zoneout masks (c (T, B, H), h (T, B, P)), both directions."""
    spec = lstmkit.nn.variants.parse(**options)
    G, T, B = len(spec.gates), 4, 2
    g = torch.Generator().manual_seed(2)

    def t(*shape, scale=0.5, shift=0.0):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64) + shift).requires_grad_(True)
    p = t(2 if spec.cifg else 3, H) if spec.peephole else None
    ln = (t(G * H, shift=1.0), t(H, shift=1.0), t(H)) if spec.layer_norm else (None, None, None)
    mask = torch.tensor([[1, 1], [0, 1], [1, 0], [1, 1]], dtype=torch.bool)
    hmask = torch.rand(B, P, generator=g, dtype=torch.float64).gt(0.2).double() / 0.8
    d = [torch.rand(T, B, n, generator=g, dtype=torch.float64).lt(z).double() if z else None
         for z, n in ((spec.zoneout_c, H), (spec.zoneout_h, P))]
    params = [q for q in (p, *ln) if q is not None]
    for reverse in (False, True):
        def f(xw, h0, c0, w_hh, w_hr, *params):
            it = iter(params)
            p_, g_h, g_c, b_c = (next(it) if q is not None else None for q in (p, *ln))
            return function(xw, h0, c0, w_hh, p_, g_h, g_c, b_c, mask, hmask, *d, reverse, spec, w_hr)
        args = [t(T, B, G * H), t(B, P), t(B, H), t(G * H, P), t(P, H), *params]
        # fast_mode for the Python kernel (random projections of the Jacobian), every entry for the C++ one
        assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, fast_mode=function is _fused)


def test_parameter_names_and_shapes_follow_torch():
    m = lstmkit.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P, cifg=True, peephole=True)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_hr_l0"] == shapes["weight_hr_l1_reverse"] == (P, H)
    assert shapes["weight_hh_l0"] == (3 * H, P) and shapes["weight_ih_l1"] == (3 * H, 2 * P)
    assert shapes["peephole_l1_reverse"] == (2, H)
    y, (h, c) = m(torch.randn(4, 3, I))
    assert y.shape == (4, 3, 2 * P) and h.shape == (4, 3, P) and c.shape == (4, 3, H)
    drawn = {}
    for init in ("torch", "keras"):  # W_hr gets each init's own bound: +-1/sqrt(H), or glorot's sqrt(6/(P+H))
        torch.manual_seed(3)
        k = lstmkit.nn.LSTM(I, H, proj_size=P, layer_norm=True, init=init)
        drawn[init] = w = k.weight_hr_l0.detach().clone()
        assert torch.isfinite(w).all() and float(w.abs().max()) > 0
        assert float(w.abs().max()) <= (1 / H ** 0.5 if init == "torch" else (6 / (P + H)) ** 0.5)
    assert not torch.equal(drawn["torch"], drawn["keras"])
    with pytest.raises(lstmkit.errors.LstmkitError, match="proj_size: expected an int with 0 <= proj_size"):
        lstmkit.nn.LSTM(I, H, proj_size=H, peephole=True)


def test_kernel_choice_with_projection_says_why():
    """auto runs a variant with a projection on the compiled kernel and says why; every variant kernel
    still refuses ONNX export in one line; under torch.compile the reference loop runs it."""
    config = kernels.KernelConfig(peephole=True, proj_size=P, hidden_size=H, batch=2, training=True)
    kernel, reason = kernels.select(config, "cpu")
    assert kernel is compiled_variants and "slower than the compiled variants kernel" in reason
    assert "compiled: fastest" in lstmkit.explain(lstmkit.nn.LSTM(I, H, proj_size=P, zoneout=0.1), file=None)
    onnx = kernels.KernelConfig(peephole=True, proj_size=P, capture="onnx")
    for k in (reference_variants, fused_variants, compiled_variants):
        why = k.unsupported(onnx, "cpu")
        assert why.startswith("ONNX's LSTM op has no peephole") and "\n" not in why
    compile_config = kernels.KernelConfig(cifg=True, proj_size=P, capture="compile")
    assert kernels.select(compile_config, "cpu")[0] is reference_variants
