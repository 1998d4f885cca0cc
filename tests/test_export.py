"""`lstmkit export` and `runtime="onnx"`: every task model's graphs pass onnx.checker and give, in
onnxruntime, the predictions of the torch path; the commands and the refusals."""
import json
import shutil
import sys

import numpy as np
import onnx
import pandas as pd
import pytest
import torch

from lstmkit.cli.main import main
from lstmkit.data.series import load_dataset
from lstmkit.data.speech_datasets import load_asterisk
from lstmkit.data.text_datasets import TextData
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.export import export_onnx
from lstmkit.tasks import classify, forecast, transcribe, translate

TEXTS = ["good film", "bad film", "a good story", "a bad story", "great fun", "awful mess"] * 5
LABELS = ["pos", "neg"] * 15
PAIRS = [(f"{v} {n}", f"{fv} {fn}") for v, fv in (("open", "ouvrir"), ("close", "fermer"), ("show", "voir"),
                                                  ("hide", "cacher"))
         for n, fn in (("file", "fichier"), ("door", "porte"), ("menu", "menu"), ("page", "page"))]
SPEECH = ("digits/1", "digits/2", "digits/3", "auth-thankyou", "conf-locked", "vm-goodbye", "vm-options")
# Texts of many lengths (an empty one too: only unknown words), so batches of several sizes and paddings.
NEW_TEXTS = ["good story", "awful film", "a great good fun film that is good", "zzz qqq", "bad", "fun " * 30]


def _train(task):
    if task == "forecast":
        config = forecast.Config(target="passengers", epochs=2, ensemble=2, hidden_size=4)
        return forecast.train(load_dataset("airpassengers")[0], config, verbose=0)
    if task == "classify":
        config = classify.Config(embed_dim=4, hidden_size=4, epochs=1, min_freq=1, ensemble=2, pooling="last")
        return classify.train(TextData(TEXTS, LABELS), config, verbose=0)
    if task == "translate":
        config = translate.Config(embed_size=8, hidden_size=8, vocab_size=30, tokenizer="char", epochs=1,
                                  batch_size=4, test_fraction=0.25)
        return translate.train(PAIRS, config, verbose=0)
    config = transcribe.Config(epochs=1, hidden_size=8, num_layers=2, stack=2, lm_order=0, speeds=(1.0,),
                               spec_augment=False, beam=1, test_fraction=0.3)
    return transcribe.train(_speech(), config, verbose=0)


def _speech():
    return [u for u in load_asterisk() if u.id in SPEECH]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny trained run directory per task (run/model/...), exported by the tests that need it."""
    root = tmp_path_factory.mktemp("runs")
    return {task: _train(task).save(root / task / "model").parent
            for task in ("forecast", "classify", "translate", "transcribe")}


def _exported(runs, task):
    model = runs[task] / "model"
    if not (model / "model.onnx.json").is_file():
        export_onnx(runs[task])
    return model


def test_cli_export_writes_checked_graph_and_its_preprocessing(runs, capsys):
    assert main(["export", "--model", str(runs["forecast"])]) == 0
    model = runs["forecast"] / "model"
    assert str(model / "model.onnx") in capsys.readouterr().out
    onnx.checker.check_model(onnx.load(model / "model.onnx"), full_check=True)
    meta = json.loads((model / "model.onnx.json").read_text())
    assert meta["task"] == "forecast" and meta["graphs"] == {"model": "model.onnx"}
    assert meta["preprocessing"] == json.loads((model / "preprocessing.json").read_text())
    (windows,), (quantiles,) = meta["io"]["model"]["inputs"], meta["io"]["model"]["outputs"]
    assert windows["name"] == "windows" and windows["dtype"] == "float32" and isinstance(windows["shape"][0], str)
    assert quantiles["name"] == "quantiles" and quantiles["shape"][1:] == [12, 1, 3]  # horizon, target, quantiles
    assert meta["max_abs_diff"]["model"] < 1e-4


def test_forecast_predict_runtime_onnx_equals_torch(runs, tmp_path):
    model = _exported(runs, "forecast")
    data = load_dataset("airpassengers")[0]
    torch_f, onnx_f = forecast.Forecaster.load(model), forecast.Forecaster.load(model, runtime="onnx")
    assert type(onnx_f.net).__name__ == "Session"
    np.testing.assert_allclose(onnx_f.predict(data=data).values, torch_f.predict(data=data).values, rtol=1e-4)
    with pytest.raises(LstmkitError, match=r"runs in onnxruntime .* load it with runtime='torch' to save it"):
        onnx_f.save(tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    csv = tmp_path / "air.csv"
    data.to_csv(csv)
    for runtime in ("torch", "onnx"):
        assert main(["forecast", "predict", "--model", str(runs["forecast"]), "--data", str(csv), "--quiet",
                     "--runtime", runtime, "--out", str(tmp_path / runtime)]) == 0
    a, b = (pd.read_csv(tmp_path / r / "forecast.csv", index_col=0) for r in ("torch", "onnx"))
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-4)


def test_classify_predict_runtime_onnx_equals_torch(runs, capsys):
    assert main(["export", "--model", str(runs["classify"]), "--quiet"]) == 0
    model = runs["classify"] / "model"
    torch_c, onnx_c = classify.Classifier.load(model), classify.Classifier.load(model, runtime="onnx")
    texts = NEW_TEXTS * 50  # 300 texts: a batch of 256 and one of 44, each sorted by length
    p_torch, p_onnx = torch_c.predict_proba(texts), onnx_c.predict_proba(texts)
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-5)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).all()
    capsys.readouterr()
    lines = {}
    for runtime in ("torch", "onnx"):
        assert main(["classify", "predict", "--model", str(runs["classify"]), "--runtime", runtime,
                     *NEW_TEXTS]) == 0
        lines[runtime] = capsys.readouterr().out
    assert lines["onnx"] == lines["torch"]  # labels, probabilities to 4 digits, texts


def test_translate_runtime_onnx_gives_the_same_greedy_and_beam_output(runs):
    model = _exported(runs, "translate")
    assert sorted(p.name for p in model.glob("*.onnx")) == ["model.decoder.onnx", "model.encoder.onnx"]
    torch_t, onnx_t = translate.Translator.load(model), translate.Translator.load(model, runtime="onnx")
    sentences = ["open file", "hide page", "close the door menu", "show"]
    assert onnx_t.predict(sentences) == torch_t.predict(sentences)
    assert onnx_t.predict(sentences[:2], beam=3) == torch_t.predict(sentences[:2], beam=3)


def test_transcribe_runtime_onnx_gives_the_same_greedy_text(runs):
    model = _exported(runs, "transcribe")
    torch_t, onnx_t = transcribe.Transcriber.load(model), transcribe.Transcriber.load(model, runtime="onnx")
    files = [u.path for u in _speech()[:4]]  # utterances of several lengths in one batch
    feats = [np.random.default_rng(k).standard_normal((n, torch_t.config.features.n_features)).astype(np.float32)
             for k, n in enumerate((9, 30, 17))]
    for a, b in zip(onnx_t.log_probs(feats), torch_t.log_probs(feats)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert onnx_t.predict(files, beam=1) == torch_t.predict(files, beam=1)


# --- refusals: one line each --------------------------------------------------------------------------

def test_runtime_onnx_without_an_export_or_with_a_stale_one_names_the_command(runs, tmp_path, capsys):
    exported, path = _exported(runs, "forecast"), tmp_path / "model"
    shutil.copytree(exported, path)
    (path / "model.onnx.json").unlink()
    with pytest.raises(ModelFileError, match=r"has no ONNX export .*run `lstmkit export --model"):
        forecast.Forecaster.load(path, runtime="onnx")
    assert main(["forecast", "predict", "--model", str(path), "--data", "x.csv", "--runtime", "onnx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lstmkit export --model" in err
    shutil.copy(exported / "model.onnx.json", path)
    assert type(forecast.Forecaster.load(path, runtime="onnx").net).__name__ == "Session"
    f = forecast.Forecaster.load(path)
    with torch.no_grad():
        f.net[0].head.bias += 1  # retrained, say: the export no longer matches the weights
    shutil.copy(f.save(tmp_path / "retrained") / "model.safetensors", path / "model.safetensors")
    with pytest.raises(ModelFileError, match="other weights"):
        forecast.Forecaster.load(path, runtime="onnx")
    with pytest.raises(LstmkitError, match="runtime: expected 'torch' or 'onnx', got 'tf'"):
        forecast.Forecaster.load(path, runtime="tf")


def test_export_refusals_are_one_line(runs, tmp_path, capsys, monkeypatch):
    assert main(["export", "--model", str(runs["forecast"]), "--onnx", str(tmp_path / "m.pb")]) == 2
    assert main(["export", "--model", str(tmp_path / "nothing")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "expected a path ending in .onnx" in errors[0] and "lstmkit export" in errors[1]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    with pytest.raises(LstmkitError, match=r"pip install 'lstmkit\[deploy\]'"):
        export_onnx(runs["forecast"])
    with pytest.raises(LstmkitError, match=r"pip install 'lstmkit\[deploy\]'"):
        forecast.Forecaster.load(runs["forecast"], runtime="onnx")


def test_a_panel_forecast_model_is_refused_in_one_line(tmp_path, capsys):
    from test_forecast_panel import FAST, make_panel

    config = forecast.Config(**{**FAST, "lookback": 12, "test_size": 6}, epochs=1)
    forecast.train(make_panel(n_series=3, length=60), config, verbose=0).save(tmp_path / "model")
    assert main(["export", "--model", str(tmp_path)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and "many-series" in errors[0] and "no ONNX export" in errors[0], errors
    with pytest.raises(ModelFileError, match="many-series"):
        forecast.Forecaster.load(tmp_path, runtime="onnx")


# int8 dynamic quantization of the task networks (LSTMs and Linears int8; measured on these tiny models:
# probabilities within 7e-4, forecasts within 0.15%; benchmarks/quantized.py scores full-size models).
QUANT_PROB_TOL, QUANT_FORECAST_RTOL = 2e-2, 2e-2


def test_int8_task_networks_stay_within_tolerance_of_float(runs):
    import lstmkit

    clf = classify.Classifier.load(runs["classify"])
    q = classify.Classifier([lstmkit.quantize(m.module) for m in clf.models], clf.encoder, clf.labels, clf.config)
    assert all(type(m.module.lstm).__name__ == "QuantizedLSTM" for m in q.models)
    p, pq = clf.predict_proba(NEW_TEXTS), q.predict_proba(NEW_TEXTS)
    assert 0 < np.abs(pq - p).max() < QUANT_PROB_TOL
    f = forecast.Forecaster.load(runs["forecast"])
    data = load_dataset("airpassengers")[0]
    before = f.predict(data=data).values
    f.net = lstmkit.quantize(f.net)
    after = f.predict(data=data).values
    assert 0 < np.abs(after / before - 1).max() < QUANT_FORECAST_RTOL
