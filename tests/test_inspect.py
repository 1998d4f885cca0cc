"""Gate traces, the inspect and bench commands."""
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.errors import LstmkitError


def test_trace_gates_reproduces_the_module_output():
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 7, 3)
    traces = lstmkit.trace_gates(lstm, x)
    assert len(traces) == 4 and set(traces[0]) == {"i", "f", "g", "o", "c", "h"}
    y, _ = lstm(x)
    last = torch.cat([traces[2]["h"], traces[3]["h"]], dim=2).transpose(0, 1)  # (B, T, 2H)
    assert torch.allclose(last, y, atol=1e-6)
    for k in "ifo":
        assert float(traces[0][k].min()) >= 0 and float(traces[0][k].max()) <= 1
    t = traces[0]  # the cell update written in the docstring holds step by step
    assert torch.allclose(t["c"][1], t["f"][1] * t["c"][0] + t["i"][1] * t["g"][1], atol=1e-6)
    assert torch.allclose(t["h"], t["o"] * torch.tanh(t["c"]), atol=1e-6)


def test_trace_gates_accepts_torch_lstm():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(2, 4)
    x = torch.randn(5, 3, 2)
    assert torch.allclose(lstmkit.trace_gates(ref, x)[0]["h"], ref(x)[0], atol=1e-6)


def test_inspect_prints_kernel_and_draws_gates(tmp_path, capsys):
    png = tmp_path / "gates.png"
    assert main(["inspect", "--hidden-size", "8", "--masked", "--gates", str(png)]) == 0
    out = capsys.readouterr().out
    assert "fused" in out and "mask" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_named_kernel_that_cannot_run_exits_2(capsys):
    assert main(["inspect", "--engine", "native", "--recurrent-dropout", "0.2", "--train"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "recurrent dropout" in err[0]


def test_bench_writes_tables(tmp_path, capsys):
    assert main(["bench", "--shapes", "S1", "--modes", "train", "--repeats", "1", "--threads", "1",
                 "--out", str(tmp_path)]) == 0
    md = (tmp_path / "engine.md").read_text()
    for contender in ("torch.nn.LSTM", "fused", "native", "reference", "plain loop"):
        assert f"| {contender} |" in md
    assert main(["bench", "--shapes", "S9"]) == 2


@pytest.mark.parametrize("build,message", [
    (lambda: lstmkit.nn.LSTM(3, 0), "hidden_size: expected a positive int, got 0"),
    (lambda: lstmkit.nn.LSTM(3, 4, dropout=1.5), "dropout: expected a probability in [0, 1), got 1.5"),
    (lambda: lstmkit.nn.LSTMCell(0, 4), "input_size: expected a positive int, got 0"),
    (lambda: lstmkit.layers.LSTM(-2), "units: expected a positive int, got -2"),
    (lambda: lstmkit.layers.LSTM(4, engine="fast"), "engine: expected one of"),
])
def test_the_lstm_front_ends_share_one_argument_check(build, message):
    with pytest.raises(LstmkitError) as caught:
        build()
    assert message in str(caught.value) and isinstance(caught.value, ValueError)  # torch-style callers
