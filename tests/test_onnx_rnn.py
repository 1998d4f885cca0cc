"""GRU, simple RNN and the minimal RNNs under ONNX export (both exporters, dynamic batch and time), run in
onnxruntime against eager; the LSTM variants ONNX has no op for are refused with what to do."""
import logging
import warnings

import onnx
import onnxruntime as ort
import pytest
import torch

import lstmkit
from lstmkit.errors import KernelUnavailable

I, H = 3, 5
SHAPES = ((1, 1), (3, 7))  # (B, T): other sizes than the example's (2, 4)


class Wrap(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.m = module

    def forward(self, x):
        out = self.m(x)
        return out if isinstance(out, torch.Tensor) else tuple(out)


MODULES = {
    "gru": lambda: lstmkit.nn.GRU(I, H, batch_first=True, bidirectional=True),
    "gru_reset_before": lambda: lstmkit.nn.GRU(I, H, 2, batch_first=True, reset_after=False),
    "rnn_relu": lambda: lstmkit.nn.RNN(I, H, 2, nonlinearity="relu", batch_first=True, bidirectional=True),
    "rnn_no_bias": lambda: lstmkit.nn.RNN(I, H, batch_first=True, bias=False),
    "keras_gru_reset_before": lambda: lstmkit.layers.GRU(H, return_sequences=True, reset_after=False),
    "keras_gru": lambda: lstmkit.layers.GRU(H, return_sequences=True),
    "keras_simple_rnn": lambda: lstmkit.layers.SimpleRNN(H, return_sequences=True, return_state=True),
    "mingru": lambda: lstmkit.nn.MinGRU(I, H, batch_first=True),
}


def _model(name):
    torch.manual_seed(0)
    model = Wrap(MODULES[name]()).eval()
    model(torch.randn(2, 4, I))  # builds the Keras-style layers
    return model


def _export(model, path, dynamo):
    example = (torch.randn(2, 4, I),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            if dynamo:
                torch.onnx.export(model, example, dynamo=True, verbose=False, input_names=["x"],
                                  dynamic_shapes=({0: "batch", 1: "time"},)).save(str(path))
            else:
                torch.onnx.export(model, example, str(path), dynamo=False, input_names=["x"],
                                  dynamic_axes={"x": {0: "batch", 1: "time"}})
        finally:
            logging.disable(logging.NOTSET)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# The dynamo exporter takes seconds a model: it gets the configurations that differ most.
@pytest.mark.parametrize("name, dynamo, op", [
    ("gru", True, "GRU"), ("gru_reset_before", True, "GRU"), ("rnn_relu", True, "RNN"),
    ("keras_gru_reset_before", True, "GRU"), ("mingru", True, None),
    ("gru", False, "GRU"), ("rnn_relu", False, "RNN"), ("rnn_no_bias", False, "RNN"),
    ("keras_gru", False, "GRU"), ("keras_simple_rnn", False, "RNN"),
])
def test_onnx_export_runs_in_onnxruntime_on_other_batch_sizes_and_lengths(name, dynamo, op, tmp_path):
    model = _model(name)
    proto, session = _export(model, tmp_path / "m.onnx", dynamo)
    if op:  # one ONNX recurrent node per layer, nothing unrolled
        layers = getattr(model.m, "num_layers", 1)
        assert sum(n.op_type == op for n in proto.graph.node) == layers
        assert not any(n.op_type in ("Loop", "Scan") for n in proto.graph.node)
    for B, T in SHAPES:
        x = torch.randn(B, T, I)
        expected = model(x)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {"x": x.numpy()})
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert torch.allclose(torch.from_numpy(g), e, atol=1e-5), (torch.from_numpy(g) - e).abs().max()


@pytest.mark.parametrize("module, dynamo, match", [
    # The TorchScript exporter translates torch's GRU op, which has only the reset-after form.
    (lambda: lstmkit.nn.GRU(I, H, reset_after=False), False, r"dynamo=True"),
    (lambda: lstmkit.nn.LSTM(I, H, peephole=True), False, "ONNX's LSTM op has no peephole"),
    (lambda: lstmkit.nn.LSTM(I, H, proj_size=2, cifg=True), False, "ONNX's LSTM op has no cifg"),
    (lambda: lstmkit.nn.LSTM(I, H, layer_norm=True), True, "ONNX's LSTM op has no layer_norm"),
])
def test_onnx_export_of_what_onnx_has_no_op_for_says_what_to_do(module, dynamo, match, tmp_path):
    torch.manual_seed(0)
    model = Wrap(module()).eval()
    with pytest.raises(Exception, match=match) as info:
        _export(model, tmp_path / "m.onnx", dynamo)
    cause = info.value
    while not isinstance(cause, KernelUnavailable) and cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, KernelUnavailable) and "\n" not in str(cause)
