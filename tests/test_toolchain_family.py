"""The recurrent family beyond nn.LSTM under the PyTorch toolchain: nn.GRU, nn.RNN, their cells,
MinLSTM/MinGRU and the LSTM variants give eager outputs under torch.compile (fullgraph, dynamic
shapes; gradients too), torch.export and torch.jit.trace."""
import pytest
import torch

import lstmkit.nn as lnn

MODULES = {
    "gru": lambda: lnn.GRU(3, 5, num_layers=2, batch_first=True),
    "gru-reset-before": lambda: lnn.GRU(3, 5, batch_first=True, reset_after=False),
    "rnn-relu": lambda: lnn.RNN(3, 5, nonlinearity="relu", batch_first=True, bidirectional=True),
    "min-lstm": lambda: lnn.MinLSTM(3, 5, batch_first=True),
    "min-gru": lambda: lnn.MinGRU(3, 5, batch_first=True),
    "peephole": lambda: lnn.LSTM(3, 5, batch_first=True, peephole=True),
    "cifg": lambda: lnn.LSTM(3, 5, batch_first=True, cifg=True),
    "layer-norm": lambda: lnn.LSTM(3, 5, batch_first=True, layer_norm=True),
    "zoneout": lambda: lnn.LSTM(3, 5, batch_first=True, zoneout=0.2),  # inference: zoneout's expectation
    "relu-lstm": lambda: lnn.LSTM(3, 5, batch_first=True, activation="relu"),
}
CELLS = {"gru-cell": lambda: lnn.GRUCell(3, 5), "rnn-cell": lambda: lnn.RNNCell(3, 5)}


class Head(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        out = self.module(x)
        return (out[0] if isinstance(out, tuple) else out).sum(-1)


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()  # each case compiles its own graphs (no recompile limit carried over)
    yield
    torch._dynamo.reset()


def _model(make):
    torch.manual_seed(0)
    return Head(make()).eval()


def _input(name, batch=2, steps=7):
    return torch.randn(batch, 3) if name.endswith("cell") else torch.randn(batch, steps, 3)


@pytest.mark.parametrize("name", [*MODULES, *CELLS])
def test_compile_export_and_trace_match_eager(name):
    model = _model({**MODULES, **CELLS}[name])
    x = _input(name)
    want = model(x)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x), want, atol=1e-5, rtol=1e-5)
    other = _input(name, batch=3, steps=4)  # another batch and length through the same graph
    torch.testing.assert_close(compiled(other), model(other), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.jit.trace(model, (x,))(x), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["gru", "rnn-relu", "min-gru", "peephole", "layer-norm"])
def test_compiled_training_gradients_match_eager(name):
    model = _model(MODULES[name]).train()
    x = _input(name)
    model(x).square().sum().backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    torch.compile(model, fullgraph=True)(x).square().sum().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, want[n], atol=1e-5, rtol=1e-5, msg=n)
