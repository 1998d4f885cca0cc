"""The LSTM variants: the fused kernel against its reference twin, gradcheck, torch and Keras parity."""
import os

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import kernels
from lstmkit.cells import activations
from lstmkit.cells.lstm_variant import VariantSpec, VariantWeights
from lstmkit.errors import KernelUnavailable, LstmkitError
from lstmkit.kernels import compiled_variants, fused_variants, reference_variants

SPECS = [dict(peephole=True), dict(cifg=True), dict(layer_norm=True), dict(zoneout=(0.3, 0.2)),
         dict(activation="relu", recurrent_activation="hard_sigmoid"),
         dict(activation="gelu", recurrent_activation="softsign", peephole=True),
         dict(peephole=True, cifg=True, layer_norm=True, zoneout=(0.2, 0.1), activation="elu")]
I, H = 3, 5


def _pair(options, dtype, engine="fused", **kw):
    """(module on `engine`, the same weights on the reference kernel)."""
    torch.manual_seed(0)
    fused = lstmkit.nn.LSTM(I, H, dtype=dtype, engine=engine, **options, **kw)
    ref = lstmkit.nn.LSTM(I, H, dtype=dtype, engine="reference", **options, **kw)
    with torch.no_grad():  # away from the initial values (zero peepholes, unit gains) so every term counts
        for p in fused.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ref.load_state_dict(fused.state_dict())
    return fused, ref


def _run(module, x, hx, mask, seed=5):
    torch.manual_seed(seed)  # the same recurrent-dropout and zoneout masks for both kernels
    x = x.detach().clone().requires_grad_(True)
    hx = tuple(h.detach().clone().requires_grad_(True) for h in hx)
    y, (h, c) = module(x, hx, mask=mask)
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + (h * 0.5).sum() - (c * 0.25).sum()
    return [y, h, c, *torch.autograd.grad(loss, [x, *hx, *module.parameters()])]


def _assert_close(ours, theirs, dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for a, b in zip(ours, theirs, strict=True):
        scale = max(1.0, float(b.detach().abs().max()))
        assert float((a - b).detach().abs().max()) <= tol * scale


def _assert_as_accurate(fused32, ref32, ref64):
    """float32: within 1e-5 of scale of the float64 reference, or within twice the float32 reference's
    own error (layer norm divides by small standard deviations, which amplifies rounding in both)."""
    for a, r, t in zip(fused32, ref32, ref64, strict=True):
        scale = max(1.0, float(t.detach().abs().max()))
        own = float((r.double() - t).detach().abs().max())
        assert float((a.double() - t).detach().abs().max()) <= max(1e-5 * scale, 2 * own)


@pytest.mark.parametrize("options", SPECS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
def test_fused_variant_matches_reference(options, dtype):
    g = torch.Generator().manual_seed(1)
    for training, masked in ((False, False), (True, True)):
        fused, ref = _pair(options, torch.float64, num_layers=2, bidirectional=True, recurrent_dropout=0.25)
        for m in (fused, ref):
            m.train(training)
        x = torch.randn(6, 3, I, generator=g, dtype=torch.float64)
        hx = (torch.randn(4, 3, H, generator=g, dtype=torch.float64), torch.randn(4, 3, H, generator=g, dtype=torch.float64))
        mask = torch.rand(6, 3, generator=g) > 0.3 if masked else None
        ref64 = _run(ref, x, hx, mask)
        if dtype == torch.float64:
            _assert_close(_run(fused, x, hx, mask), ref64, dtype)
            continue
        x32, hx32 = x.float(), tuple(h.float() for h in hx)
        _assert_as_accurate(_run(fused.float(), x32, hx32, mask), _run(ref.float(), x32, hx32, mask), ref64)


@pytest.mark.parametrize("options", SPECS[:4] + SPECS[-1:], ids=lambda o: ",".join(o))
def test_gradcheck_hand_written_backward(options):
    spec = lstmkit.nn.variants.parse(**options)
    G, T, B = len(spec.gates), 4, 2  # fast_mode: random projections of the Jacobian, not every entry
    g = torch.Generator().manual_seed(2)

    def t(*shape, scale=0.5):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    p = t(2 if spec.cifg else 3, H) if spec.peephole else None
    ln = (t(G * H) + 1, t(H) + 1, t(H)) if spec.layer_norm else (None, None, None)
    ln = tuple(v.detach().requires_grad_(True) if v is not None else None for v in ln)
    mask = torch.tensor([[1, 1], [0, 1], [1, 0], [1, 1]], dtype=torch.bool)
    hmask = torch.rand(B, H, generator=g, dtype=torch.float64).gt(0.2).double() / 0.8
    d = [torch.rand(T, B, H, generator=g, dtype=torch.float64).lt(z).double() if z else None
         for z in (spec.zoneout_c, spec.zoneout_h)]
    for reverse in (False, True):
        def f(xw, h0, c0, w_hh, *params):
            p_, g_h, g_c, b_c = (list(params) + [None] * 4)[:4] if params else (None,) * 4
            return fused_variants.FusedVariant.apply(xw, h0, c0, w_hh, p_, g_h, g_c, b_c, mask, hmask, *d,
                                                     reverse, spec)
        params = [p] if p is not None else []
        if spec.layer_norm:
            params = [p, *ln]
        args = [t(T, B, G * H), t(B, H), t(B, H), t(G * H, H), *params]
        assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, fast_mode=True)


@pytest.mark.parametrize("kernel", ("reference", "fused", "compiled"))
@pytest.mark.parametrize("proj", (0, 2))
def test_default_options_on_the_variant_kernel_equal_torch_lstm(proj, kernel):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, dtype=torch.float64, proj_size=proj)
    w = VariantWeights(ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0,
                       weight_hr=ref.weight_hr_l0 if proj else None)
    x = torch.randn(7, 2, I, dtype=torch.float64, requires_grad=True)
    hx = (torch.randn(1, 2, proj or H, dtype=torch.float64), torch.randn(1, 2, H, dtype=torch.float64))
    config = kernels.KernelConfig(dtype=torch.float64, proj_size=proj)
    module = {"reference": reference_variants, "fused": fused_variants, "compiled": compiled_variants}[kernel]
    if kernel == "compiled" and compiled_variants.unsupported(config, "cpu"):
        pytest.fail(f"the compiled variants kernel did not load: {compiled_variants.unsupported(config, 'cpu')}")
    y, (h, c) = module.run(x, hx, [w], config, training=False)
    y_ref, (h_ref, c_ref) = ref(x, hx)
    grads = torch.autograd.grad(y.sum() + c.sum(), [x, *ref.parameters()])
    grads_ref = torch.autograd.grad(y_ref.sum() + c_ref.sum(), [x, *ref.parameters()])
    _assert_close([y, h, c, *grads], [y_ref, h_ref, c_ref, *grads_ref], torch.float64)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_derivatives_match_autograd(name):
    act = activations.get(name)
    x = torch.linspace(-5, 5, 101, dtype=torch.float64).add(0.013).requires_grad_(True)  # off the kinks
    y = act.fn(x)
    (expected,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(act.grad(x.detach(), y.detach()), expected, rtol=1e-10, atol=1e-12)


def test_zoneout_at_inference_uses_the_expectation():
    torch.manual_seed(0)
    m = lstmkit.nn.LSTM(I, H, zoneout=(0.5, 0.25)).eval()
    x = torch.randn(4, 2, I)
    assert torch.equal(m(x)[0], m(x)[0])  # deterministic
    m.train()
    torch.manual_seed(1)
    a = m(x)[0]
    torch.manual_seed(2)
    assert not torch.equal(a, m(x)[0])  # random masks in training


def test_options_are_checked_and_explained():
    with pytest.raises(LstmkitError, match="zoneout"):
        lstmkit.nn.LSTM(I, H, zoneout=1.5)
    with pytest.raises(LstmkitError, match="recurrent_activation.*'nope'"):
        lstmkit.nn.LSTM(I, H, recurrent_activation="nope")
    with pytest.raises(ValueError, match="proj_size: expected an int"):
        lstmkit.nn.LSTM(I, H, proj_size=-1, peephole=True)
    with pytest.raises(KernelUnavailable, match="no LSTM with peephole"):
        lstmkit.nn.LSTM(I, H, peephole=True, engine="native")(torch.randn(2, 1, I))
    text = lstmkit.explain(lstmkit.nn.LSTM(I, H, layer_norm=True), file=open(os.devnull, "w"))
    assert "fused" in text and "layer_norm" in text
    m = lstmkit.nn.LSTM(I, H, cifg=True, peephole=True, layer_norm=True)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes["weight_ih_l0"] == (3 * H, I) and shapes["peephole_l0"] == (2, H)
    assert shapes["ln_ih_l0"] == (3 * H,) and shapes["ln_c_bias_l0"] == (H,)
    assert VariantSpec(cifg=True).names() == ["cifg"]
    with pytest.raises(LstmkitError, match="trace_gates.*peephole"):
        lstmkit.trace_gates(lstmkit.nn.LSTM(I, H, peephole=True), torch.randn(3, 1, I))


def test_packed_input_runs_on_the_variant_kernel():
    from torch.nn.utils.rnn import pack_padded_sequence
    fused, ref = _pair(dict(peephole=True, layer_norm=True), torch.float64, batch_first=True)
    x = torch.randn(3, 5, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 3]), batch_first=True, enforce_sorted=False)
    (y, (h, c)), (y_ref, (h_ref, c_ref)) = fused(packed), ref(packed)
    _assert_close([y.data, h, c], [y_ref.data, h_ref, c_ref], torch.float64)


@pytest.fixture(scope="module")
def keras():
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    assert keras.backend.backend() == "torch"
    return keras


@pytest.mark.parametrize("activation,recurrent_activation", [("relu", "hard_sigmoid"), ("softsign", "sigmoid"),
                                                              ("linear", "tanh"), ("selu", "softplus")])
def test_keras_activations_match_keras(keras, activation, recurrent_activation):
    from lstmkit.layers import LSTM
    x = np.cos(np.arange(2 * 6 * 3)).reshape(2, 6, 3).astype("float32") * 0.8
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    for go_backwards in (False, True):
        ours = LSTM(4, activation=activation, recurrent_activation=recurrent_activation, return_sequences=True,
                    go_backwards=go_backwards)
        ours(torch.from_numpy(x))
        theirs = keras.layers.LSTM(4, activation=activation, recurrent_activation=recurrent_activation,
                                   return_sequences=True, go_backwards=go_backwards)
        theirs(x)
        theirs.set_weights(ours.get_weights())
        expected = keras.ops.convert_to_numpy(theirs(x, mask=mask))
        got = ours(torch.from_numpy(x), mask=torch.from_numpy(mask)).detach().numpy()
        # Keras repeats the previous output on masked steps; lstmkit's kernels output zeros there
        keep = mask[:, ::-1] if go_backwards else mask
        np.testing.assert_allclose(got[keep], expected[keep], atol=2e-6)
