"""Mixed bfloat16: every kernel family under autocast against float32 (outputs and gradients), the cell
state kept in float32, a tiny bf16 fit converging, the Keras policy, and `--precision bf16` on each
task command.

Tolerances: bfloat16 keeps 8 significant bits (relative rounding 2^-9, about 0.2%). Where the LSTM runs
its GEMMs in bfloat16 (torch's op through `kernels.mixed`) outputs must agree with float32 within
0.01 absolute (outputs are bounded by 1) and gradients within 3% of their norm; kernels that run in
float32 under autocast must agree to 1e-5.
"""
import json
import random

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import layers
from lstmkit.cli.main import main
from lstmkit.data.pairs import dedup_pairs, read_gettext
from lstmkit.errors import LstmkitError
from lstmkit.models import Sequential
from lstmkit.tasks import translate
from test_transcribe import _folder

BF16 = dict(device_type="cpu", dtype=torch.bfloat16)
MIXED_ATOL, MIXED_GRAD_REL, FP32_ATOL = 1e-2, 3e-2, 1e-5


def _run(module, x, autocast):
    """Output and the gradients of the input and every parameter, for sum(y * fixed weights)."""
    module.zero_grad()
    x = x.detach().requires_grad_(True)
    with torch.autocast(**BF16, enabled=autocast):
        out = module(x)
        y = out[0] if isinstance(out, tuple) else out
    y = y.float()
    y.backward(torch.linspace(-1, 1, y.numel()).reshape(y.shape))
    return y.detach(), [x.grad, *(p.grad for p in module.parameters())]


def _rel(a, b):
    return float((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-12))


def _compare(module, x, tol, grad_tol):
    y32, g32 = _run(module, x, False)
    y16, g16 = _run(module, x, True)
    assert (y16 - y32).abs().max() <= tol
    for a, b in zip(g16, g32):
        assert a.dtype == torch.float32  # master weights: gradients stay float32
        assert _rel(a, b) <= grad_tol


@pytest.mark.parametrize("engine,mixed", [("native", True), ("auto", True), ("fused", False),
                                          ("compiled", False), ("reference", False)])
@pytest.mark.parametrize("cfg", [dict(), dict(num_layers=2, bidirectional=True)])
def test_lstm_kernels_under_autocast_match_float32(engine, mixed, cfg):
    torch.manual_seed(0)
    lstm = lstmkit.nn.LSTM(12, 32, engine=engine, **cfg)
    x = torch.randn(20, 4, 12)
    _compare(lstm, x, *((MIXED_ATOL, MIXED_GRAD_REL) if mixed else (FP32_ATOL, FP32_ATOL)))


@pytest.mark.parametrize("make", [lambda: lstmkit.nn.GRU(12, 32), lambda: lstmkit.nn.RNN(12, 32),
                                  lambda: lstmkit.nn.LSTM(12, 32, proj_size=8),
                                  lambda: lstmkit.nn.LSTM(12, 32, recurrent_dropout=0.0, peephole=True)])
def test_other_cells_run_float32_under_autocast(make):
    torch.manual_seed(0)
    _compare(make(), torch.randn(15, 3, 12), FP32_ATOL, FP32_ATOL)


def test_keras_layers_and_bf16_input_under_autocast():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), layers.Bidirectional(layers.LSTM(16, return_sequences=True)),
                                layers.GRU(8))
    x = torch.randn(4, 10, 6)
    model(x)  # builds the lazy layers
    _compare(model, x, MIXED_ATOL, MIXED_GRAD_REL)  # the Linear hands the LSTM bfloat16 input


def test_cell_state_stays_float32_over_a_long_sequence():
    """A cell that adds tanh(0.01) per step reaches about 9.8 after 1000 steps in float32; held in
    bfloat16 it would stop at 4.0, where bfloat16's spacing (2^-5) exceeds twice the step."""
    H = 8
    lstm = lstmkit.nn.LSTM(4, H, engine="native")  # the kernel that runs GEMMs in bfloat16
    with torch.no_grad():
        for p in lstm.parameters():
            p.zero_()
        lstm.bias_ih_l0[: 2 * H] = 10.0  # i and f open
        lstm.bias_ih_l0[2 * H: 3 * H] = 0.01  # g
    with torch.autocast(**BF16):
        y, (h, c) = lstm(torch.zeros(1000, 1, 4))
    assert y.dtype == torch.bfloat16 and c.dtype == torch.float32
    assert 9.7 < float(c.detach().min()) < 9.9


def test_bf16_input_outside_autocast_is_still_an_error():
    with pytest.raises(LstmkitError, match="expected dtype torch.float32"):
        lstmkit.nn.LSTM(4, 8)(torch.randn(3, 2, 4, dtype=torch.bfloat16))


def _sum_task(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((256, 20, 3), dtype=np.float32)
    return x, x[:, :, :1].mean(1) - x[:, :, 1:2].mean(1)


def _fit(precision, epochs=12, **fit):
    lstmkit.set_seed(0)
    x, y = _sum_task()
    model = Sequential([layers.Input((20, 3)), layers.LSTM(16), layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, precision=precision, **fit)
    return model, history.history["loss"]


def test_tiny_bf16_fit_converges_like_float32():
    model, bf16 = _fit("bf16")
    _, fp32 = _fit("fp32")
    assert bf16[-1] < 0.5 * bf16[0]
    assert abs(bf16[-1] - fp32[-1]) < 0.5 * fp32[-1] + 1e-3
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights
    assert model.predict(_sum_task()[0][:3]).dtype == np.float32


def test_keras_global_policy_and_compile_precision():
    try:
        lstmkit.mixed_precision.set_global_policy("mixed_bfloat16")
        assert lstmkit.mixed_precision.global_policy() == "bf16"
        model = Model1()
        with model.autocast():
            assert torch.is_autocast_enabled("cpu")
    finally:
        lstmkit.mixed_precision.set_global_policy("float32")
    model = Model1()
    model.compile("sgd", "mse", precision="bf16")
    with model.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    model.compile("sgd", "mse")
    with model.autocast():
        assert not torch.is_autocast_enabled("cpu")


def Model1():
    return lstmkit.Model(torch.nn.Linear(3, 1))


@pytest.mark.parametrize("bad", ["fp16", "mixed_float16", "half", 16])
def test_bad_precision_is_one_clear_error(bad):
    with pytest.raises(LstmkitError, match="precision: expected one of fp32, bf16"):
        _fit(bad, epochs=1)
    with pytest.raises(LstmkitError, match="precision"):
        translate.Config(precision=bad)


def _classify_args(tmp_path):
    rng = random.Random(0)
    words = {"pos": ["great", "lovely", "fun"], "neg": ["awful", "dull", "bad"]}
    rows = [f"{rng.choice(words[y])} {rng.choice(words[y])} film,{y}" for y in ["pos", "neg"] * 30]
    (tmp_path / "r.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return ["classify", "train", "--data", str(tmp_path / "r.csv"), "--epochs", "1", "--ensemble", "1"]


def _translate_args(tmp_path):
    pairs = dedup_pairs(read_gettext("fr"), max_words=4)[:40]
    (tmp_path / "p.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return ["translate", "train", "--pairs", str(tmp_path / "p.tsv"), "--epochs", "1", "--embed-size", "16",
            "--hidden-size", "16", "--batch-size", "8", "--vocab-size", "120"]


def _transcribe_args(tmp_path):
    data, transcripts = _folder(tmp_path)
    return ["transcribe", "train", "--data", str(data), "--transcripts", str(transcripts), "--epochs", "1",
            "--hidden", "16", "--beam", "2"]


TASKS = {
    "forecast": lambda tmp: ["forecast", "train", "--epochs", "2", "--ensemble", "1", "--hidden", "8",
                              "--peers", "off"],
    "classify": _classify_args,
    "translate": _translate_args,
    "transcribe": _transcribe_args,
    "transcribe --fsdd": lambda tmp: ["transcribe", "train", "--fsdd", "--epochs", "1", "--hidden", "16"],
}


@pytest.mark.parametrize("task", TASKS)
def test_precision_flag_on_each_task_command(task, tmp_path, capsys):
    out, args = tmp_path / "run", TASKS[task](tmp_path)
    assert main([*args, "--precision", "bf16", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    saved = json.loads((out / "model" / "config.json").read_text())
    assert saved["config"]["precision"] == "bf16"
    assert json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    with pytest.raises(SystemExit):  # argparse's usage error, status 2
        main([*args, "--precision", "fp16", "--out", str(out)])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
