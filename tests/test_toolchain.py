"""lstmkit.nn modules under torch.compile, torch.export, torch.jit.trace, ONNX (both exporters, run in
onnxruntime) and int8 dynamic quantization: the same outputs (and compiled gradients) as eager mode."""
import logging
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch.ao.quantization import quantize_dynamic

import lstmkit
from lstmkit.errors import KernelUnavailable, LstmkitError
from lstmkit.kernels import fused

I, H = 3, 6
SHAPES = ((1, 1), (3, 7), (5, 20))  # (B, T) batches the exported graphs are run on


class Wrap(torch.nn.Module):
    """Returns (y, h_n, c_n) as a flat tuple, the form exporters and tracers take."""

    def __init__(self, **kw):
        super().__init__()
        self.lstm = lstmkit.nn.LSTM(I, H, batch_first=True, **kw)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return y, h, c


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return Wrap(**kw).eval()


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    # Every test compiles Wrap.forward anew; dynamo's per-function cache limit would otherwise fill up.
    torch._dynamo.reset()


def _close(a, b, tol=1e-5):
    for u, v in zip(a, b):
        assert torch.allclose(torch.as_tensor(u), v.detach(), atol=tol, rtol=0), (u - v.detach()).abs().max()


# --- torch.compile ----------------------------------------------------------------------------------

def _train_grads(model, x):
    torch.manual_seed(1)  # the same dropout masks in both runs (aot_eager draws them as eager does)
    model.zero_grad()
    x = x.clone().requires_grad_()
    y, h, c = model(x)
    (y.square().sum() + h.sum() + c.sum()).backward()
    return [x.grad] + [p.grad.clone() for p in model.parameters()]


@pytest.fixture
def one_compile_thread():
    # no worker pool to start: faster here (config.patch restores the setting; monkeypatch's undo
    # deleted it from inductor's config module, which broke every later compile in the process)
    with torch._inductor.config.patch(compile_threads=1):
        yield


def test_compile_inference_and_training_match_eager_without_graph_breaks(one_compile_thread):
    model = _model(bidirectional=True)
    # fullgraph: any graph break is an error; dynamic: one graph for every batch size and length.
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    with torch.no_grad():
        for B, T in SHAPES[1:]:
            x = torch.randn(B, T, I)
            _close(compiled(x), model(x))
    model.train()
    for B, T in SHAPES[1:]:
        x = torch.randn(B, T, I)
        _close(_train_grads(compiled, x), _train_grads(model, x))


@pytest.mark.parametrize("kw", [dict(bias=False), dict(proj_size=2), dict(engine="fused"),
                                dict(num_layers=2, dropout=0.4, recurrent_dropout=0.3)])
def test_compile_variants_match_eager(kw):
    # aot_eager runs the same capture (dynamo, fake tensors, AOT autograd) without inductor's C++ build.
    model = _model(**kw)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True, dynamic=True)
    x = torch.randn(3, 5, I)
    _close(compiled(x), model(x))
    model.train()
    _close(_train_grads(compiled, x), _train_grads(model, x))


def test_compile_with_a_mask_matches_eager():
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(I, H, batch_first=True)
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)  # left-padded
    x = torch.randn(2, 5, I)
    compiled = torch.compile(lambda x, m: lstm(x, mask=m)[0], backend="aot_eager", fullgraph=True)
    assert torch.allclose(compiled(x, mask), lstm(x, mask=mask)[0], atol=1e-6)


def test_keras_style_model_compiles_and_trains_like_eager():
    from lstmkit.layers import LSTM, Bidirectional, Dense
    from lstmkit.models import Sequential
    torch.manual_seed(0)
    model = Sequential([Bidirectional(LSTM(5, return_sequences=True), input_shape=(None, I)), LSTM(4),
                        Dense(1)])
    x = torch.randn(3, 6, I)
    model(x)  # builds the layers

    def loss(fn):
        model.zero_grad()
        y = fn(x)
        y.square().sum().backward()
        return [y] + [p.grad.clone() for p in model.parameters()]
    _close(loss(torch.compile(model, backend="aot_eager", fullgraph=True)), loss(model))


def test_lstmcell_compiles_and_trains_like_eager():
    torch.manual_seed(0)
    cell = lstmkit.nn.LSTMCell(I, H)
    x, h0, c0 = torch.randn(4, I), torch.randn(4, H), torch.randn(4, H)

    def loss(fn):
        cell.zero_grad()
        h, c = fn(x, (h0, c0))
        (h.square().sum() + c.sum()).backward()
        return [h, c] + [p.grad.clone() for p in cell.parameters()]
    _close(loss(torch.compile(cell, backend="aot_eager", fullgraph=True)), loss(cell))


def test_native_by_name_under_compile_runs_for_inference_and_says_why_not_for_training():
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(I, H, num_layers=2, engine="native").eval()
    compiled = torch.compile(lstm, backend="aot_eager", fullgraph=True, dynamic=True)
    x = torch.randn(4, 2, I)
    with torch.no_grad():  # torch's op, as the custom op lstmkit::native_lstm
        (y, (h, c)), (y0, (h0, c0)) = compiled(x), lstm(x)
    _close((y, h, c), (y0, h0, c0))
    with pytest.raises(Exception, match="torch.compile"):
        compiled(x)  # grad enabled: the graph could be trained, and torch's op has no backward there


def test_fused_custom_op_registrations_pass_opcheck():
    torch.manual_seed(0)
    T, B, P = 4, 2, 3
    d = dict(requires_grad=True)
    args = (torch.randn(T, B, I, **d), torch.randn(B, P, **d), torch.randn(B, H, **d),
            torch.randn(4 * H, I, **d), torch.randn(4 * H, P, **d), torch.randn(4 * H, **d),
            torch.randn(4 * H, **d), torch.randn(P, H, **d), torch.tensor([[1, 0]] * T, dtype=torch.bool),
            None, True)
    # Schema, fake-tensor shapes and strides, autograd registration, and AOT dispatch.
    torch.library.opcheck(fused._op.op, args)


# --- torch.export and torch.jit.trace ---------------------------------------------------------------

@pytest.mark.parametrize("grad, op", [(True, "fused_lstm"), (False, "native_lstm")])
def test_export_with_dynamic_batch_and_time_matches_eager(grad, op, tmp_path):
    model = _model(num_layers=2, bias=False)
    dims = ({0: torch.export.Dim("batch"), 1: torch.export.Dim("time")},)
    with torch.set_grad_enabled(grad):
        program = torch.export.export(model, (torch.randn(2, 4, I),), dynamic_shapes=dims)
    assert any(f"lstmkit.{op}" in str(n.target) for n in program.graph.nodes)
    torch.export.save(program, tmp_path / "m.pt2")
    program = torch.export.load(tmp_path / "m.pt2")
    for B, T in SHAPES:
        x = torch.randn(B, T, I)
        _close(program.module()(x), model(x))


def test_jit_trace_matches_eager_on_other_shapes():
    model = _model(bidirectional=True)
    traced = torch.jit.trace(model, (torch.randn(2, 4, I),))
    for B, T in SHAPES:
        x = torch.randn(B, T, I)
        _close(traced(x), model(x))


def test_lstmcell_exports_traces_and_runs_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    cell = lstmkit.nn.LSTMCell(I, H, bias=False)
    x, hx = torch.randn(3, I), (torch.randn(3, H), torch.randn(3, H))
    program = torch.export.export(cell, (x, hx))
    traced = torch.jit.trace(cell, (x, hx))
    for fn in (program.module(), traced):
        _close(fn(x, hx), cell(x, hx))
    path = str(tmp_path / "cell.onnx")
    torch.onnx.export(cell, (x, hx), path, dynamo=False, input_names=["x", "h", "c"],
                      dynamic_axes={name: {0: "batch"} for name in ("x", "h", "c")})
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x, hx = torch.randn(5, I), (torch.randn(5, H), torch.randn(5, H))
    got = ort.InferenceSession(path).run(None, {"x": x.numpy(), "h": hx[0].numpy(), "c": hx[1].numpy()})
    _close(got, cell(x, hx))


# --- ONNX -------------------------------------------------------------------------------------------

def _export_onnx(model, path, dynamo):
    example = (torch.randn(2, 4, I),)
    names = dict(input_names=["x"], output_names=["y", "h", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)  # the dynamo exporter logs optional dependencies it skips
        try:
            if dynamo:
                program = torch.onnx.export(model, example, dynamo=True,
                                            dynamic_shapes=({0: "batch", 1: "time"},), **names)
                program.save(str(path))
            else:
                torch.onnx.export(model, example, str(path), dynamo=False, **names,
                                  dynamic_axes={"x": {0: "batch", 1: "time"}, "y": {0: "batch", 1: "time"}})
        finally:
            logging.disable(logging.NOTSET)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# The dynamo exporter takes seconds a model: it gets the two configurations that differ most.
@pytest.mark.parametrize("kw, dynamo", [(dict(), False), (dict(bias=False), False),
                                        (dict(num_layers=2, bidirectional=True), False),
                                        (dict(bias=False), True), (dict(num_layers=2, bidirectional=True), True)])
def test_onnx_export_runs_in_onnxruntime(kw, dynamo, tmp_path):
    model = _model(**kw)
    proto, session = _export_onnx(model, tmp_path / "m.onnx", dynamo=dynamo)
    assert sum(n.op_type == "LSTM" for n in proto.graph.node) == model.lstm.num_layers
    for B, T in SHAPES:  # other batch sizes and lengths than the example's
        x = torch.randn(B, T, I)
        _close(session.run(None, {"x": x.numpy()}), model(x))


class Masked(Wrap):
    def forward(self, x):
        y, (h, c) = self.lstm(x, mask=x[..., 0] > 0)
        return y, h, c


@pytest.mark.parametrize("model, mode, match", [
    (Masked(), "EVAL", "ONNX's"),
    (Wrap(proj_size=2), "EVAL", "proj_size"),
    # The exporter switches the model to eval mode unless told otherwise; recurrent dropout is training only.
    (Wrap(recurrent_dropout=0.3), "TRAINING", r"model\.eval\(\)"),
])
def test_onnx_export_of_what_onnx_cannot_run_says_what_to_do(model, mode, match, tmp_path):
    with pytest.raises(Exception, match=match) as info:
        torch.onnx.export(model, (torch.randn(2, 4, I),), str(tmp_path / "m.onnx"), dynamo=False,
                          training=getattr(torch.onnx.TrainingMode, mode))
    assert isinstance(info.value, KernelUnavailable) or isinstance(info.value.__cause__, KernelUnavailable)


# --- int8 dynamic quantization ----------------------------------------------------------------------

QUANT_TOL = 2e-2  # int8 weights: measured 1e-3..3e-3 on these models (outputs within (-1, 1))


@pytest.mark.parametrize("kw", [dict(), dict(bias=False), dict(num_layers=2, bidirectional=True)])
def test_quantize_matches_float_within_tolerance(kw):
    torch.manual_seed(0)
    model = torch.nn.Sequential(lstmkit.nn.LSTM(I, 50, batch_first=True, **kw)).eval()
    head = torch.nn.Linear(50 * (2 if kw.get("bidirectional") else 1), 2)
    q, q_head = lstmkit.quantize(model), lstmkit.quantize(head)
    assert type(q[0]).__name__ == "QuantizedLSTM" and "quantized" in type(q_head).__module__
    x = torch.randn(4, 12, I)
    y, (h, c) = model(x)
    yq, (hq, cq) = q(x)
    _close((yq, hq, cq, q_head(yq)), (y, h, c, head(y)), tol=QUANT_TOL)
    assert (yq - y).abs().max() > 0  # the weights really are int8
    assert isinstance(model[0], lstmkit.nn.LSTM)  # the float model is left as it was


def test_quantize_dynamic_with_lstmkit_mapping_and_cells():
    torch.manual_seed(0)
    cell = torch.nn.Sequential(lstmkit.nn.LSTMCell(I, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        q = quantize_dynamic(cell, {lstmkit.nn.LSTMCell}, mapping=lstmkit.quantization.quantize_mapping())
    x = torch.randn(5, I)
    assert isinstance(q[0], torch.ao.nn.quantized.dynamic.LSTMCell)
    _close(q[0](x), cell[0](x), tol=QUANT_TOL)


def test_quantize_refuses_what_it_cannot_quantize():
    with pytest.raises(LstmkitError, match="proj_size"):
        lstmkit.quantize(lstmkit.nn.LSTM(I, H, proj_size=2))
    with pytest.raises(LstmkitError, match="float32"):
        lstmkit.quantize(lstmkit.nn.LSTM(I, H, dtype=torch.float64))
    with pytest.raises(LstmkitError, match="dtype"):
        lstmkit.quantize(lstmkit.nn.LSTM(I, H), dtype=torch.int32)
    q = lstmkit.quantize(lstmkit.nn.LSTM(I, H))
    with pytest.raises(LstmkitError, match="right padding"):
        q(torch.randn(4, 2, I), mask=torch.tensor([[0, 1]] * 2 + [[1, 1]] * 2, dtype=torch.bool))  # left-padded
    assert np.isfinite(q(torch.randn(4, 2, I))[0].numpy()).all()


@pytest.mark.parametrize("batch_first", [True, False])
def test_quantized_lstm_runs_a_right_padding_mask_as_the_float_lstm_does(batch_first):
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(I, 50, batch_first=batch_first, bidirectional=True)
    q = lstmkit.quantize(lstm)
    lengths = torch.tensor([5, 2, 0, 4])  # an empty row too
    mask = torch.arange(5)[None, :] < lengths[:, None]  # (B, T)
    x = torch.randn(4, 5, I)
    if not batch_first:
        x, mask = x.transpose(0, 1), mask.t()
    y, (h, c) = lstm(x, mask=mask)
    yq, (hq, cq) = q(x, mask=mask)
    _close((yq, hq, cq), (y, h, c), tol=QUANT_TOL)
    assert (yq[~mask] == 0).all() and (hq[:, 2] == 0).all()  # padded steps and the empty row stay zero
