"""Every task through the same contract (train tiny -> evaluate -> save -> load -> predict equals the
in-memory predictions), and every command through `train` then `predict --model RUN_DIR`."""
import json
import shutil

import numpy as np
import pytest

from lstmkit.cli.main import current_spelling, main
from lstmkit.data.series import load_dataset
from lstmkit.data.speech_datasets import load_asterisk, load_fsdd
from lstmkit.data.text_datasets import TextData
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.tasks import classify, forecast, transcribe, translate
from lstmkit.tasks.transcribe import digits

TEXTS = ["good film", "bad film", "a good story", "a bad story", "great fun", "awful mess"] * 5
LABELS = ["pos", "neg"] * 15
PAIRS = [(f"{v} {n}", f"{fv} {fn}") for v, fv in (("open", "ouvrir"), ("close", "fermer"), ("show", "voir"),
                                                  ("hide", "cacher"))
         for n, fn in (("file", "fichier"), ("door", "porte"), ("menu", "menu"), ("page", "page"))]
SPEECH = ("digits/1", "digits/2", "digits/3", "digits/4", "digits/5", "auth-thankyou", "conf-locked",
          "vm-goodbye", "conf-getpin", "vm-options")


def _speech():
    return [u for u in load_asterisk() if u.id in SPEECH]


def _fsdd_subset():
    X, y = load_fsdd()
    keep = np.arange(0, len(y), 15)  # 200 recordings, every digit
    return [X[k] for k in keep], y[keep]


CASES = {  # task: (module, config, data, predictor's input)
    "forecast": (forecast, lambda: forecast.Config(target="passengers", epochs=2, ensemble=1, hidden_size=4),
                 lambda: load_dataset("airpassengers")[0], lambda data: {"data": data}),
    "classify": (classify, lambda: classify.Config(embed_dim=4, hidden_size=4, epochs=1, min_freq=1),
                 lambda: TextData(TEXTS, LABELS), lambda data: {"texts": ["good story", "awful film"]}),
    "translate": (translate, lambda: translate.Config(embed_size=8, hidden_size=8, vocab_size=30, tokenizer="char",
                                                      epochs=1, batch_size=4, test_fraction=0.25),
                  lambda: PAIRS, lambda data: {"sentences": ["open file", "hide page"]}),
    "transcribe": (transcribe, lambda: transcribe.Config(epochs=1, hidden_size=8, num_layers=1, stack=2, lm_order=2,
                                                         speeds=(1.0,), spec_augment=False, beam=2,
                                                         test_fraction=0.3),
                   _speech, lambda data: {"files": [u.path for u in data[:2]]}),
    "digits": (digits, lambda: digits.DigitsConfig(epochs=1, hidden_size=8, num_layers=1), _fsdd_subset,
               lambda data: {"sequences": data[0][:5]}),
}


@pytest.mark.parametrize("task", CASES)
def test_every_task_keeps_the_contract(task, tmp_path):
    module, config, data, inputs = CASES[task]
    config, data = config(), data()
    predictor = module.train(data, config, verbose=0)
    metrics = module.evaluate(predictor, data)
    assert "lstm" in metrics and len(metrics) >= 2  # the model next to a baseline (or itself without the LM)
    assert all(isinstance(m, dict) for m in metrics.values())
    json.dumps(metrics)  # metrics.json takes it as it is
    path = predictor.save(tmp_path / "run" / "model")
    saved = json.loads((path / "config.json").read_text())
    assert saved["task"] == predictor.task and type(config).from_dict(saved["config"]) == config
    before = predictor.predict(**inputs(data))
    for where in (tmp_path / "run", path):  # the run directory or the model directory
        loaded = type(predictor).load(where)
        assert loaded.config == config
        after = loaded.predict(**inputs(data))
        if task == "forecast":
            np.testing.assert_allclose(after.values, before.values, rtol=1e-6)
        else:
            assert np.array_equal(np.asarray(after, dtype=object), np.asarray(before, dtype=object))


@pytest.mark.parametrize("task", ["forecast", "classify", "translate", "transcribe"])
def test_a_config_with_the_shared_names_is_checked_when_built(task):
    module = CASES[task][0]
    with pytest.raises(LstmkitError, match="hidden_size: expected a positive integer, got 0"):
        module.Config(hidden_size=0)
    with pytest.raises(LstmkitError, match="epochs"):
        module.Config(epochs=-1)


def test_another_tasks_model_and_an_empty_directory_are_refused(tmp_path):
    module, config, data, _ = CASES["classify"]
    path = module.train(data(), config(), verbose=0).save(tmp_path / "clf")
    with pytest.raises(ModelFileError, match="is not a translate model"):
        translate.Translator.load(path)
    with pytest.raises(ModelFileError, match=r"missing file .*config\.json"):
        forecast.Forecaster.load(tmp_path)


def _lines(capsys):
    return capsys.readouterr().out.strip().splitlines()


def test_forecast_command_train_then_predict_with_the_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["forecast", "train", "--epochs", "2", "--ensemble", "1", "--hidden-size", "4", "--out", str(run),
                 "--quiet"]) == 0
    assert {"model", "metrics.json", "forecast.png", "forecast.csv", "backtest.csv"} <= {p.name for p in run.iterdir()}
    air = tmp_path / "air.csv"
    load_dataset("airpassengers")[0].to_csv(air)
    assert main(["forecast", "predict", "--model", str(run), "--data", str(air), "--out", str(tmp_path / "next"),
                 "--quiet"]) == 0
    # the history is the training series, so the forecast is the one train wrote after it
    assert (tmp_path / "next" / "forecast.csv").read_text() == (run / "forecast.csv").read_text()


def test_classify_command_train_then_predict_with_the_run_directory(tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS)))
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(csv), "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    assert set(json.loads((run / "metrics.json").read_text())) >= {"lstm", "tfidf_logreg", "majority"}
    capsys.readouterr()
    assert main(["classify", "predict", "--model", str(run), "good story", "awful film"]) == 0
    expected = classify.Classifier.load(run / "model").predict(["good story", "awful film"])
    assert _lines(capsys) == [f"{y}\t{p:.4f}\t{t}" for (y, p), t in zip(expected, ["good story", "awful film"])]


def test_translate_command_train_then_predict_with_the_run_directory(tmp_path, capsys):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in PAIRS))
    run = tmp_path / "run"
    assert main(["translate", "train", "--pairs", str(tsv), "--epochs", "1", "--embed-size", "8", "--hidden-size",
                 "8", "--vocab-size", "30", "--tokenizer", "char", "--batch-size", "4", "--out", str(run),
                 "--quiet"]) == 0
    assert set(json.loads((run / "metrics.json").read_text())) == {"lstm", "copy", "retrieval"}
    capsys.readouterr()
    assert main(["translate", "predict", "--model", str(run), "open file", "hide page"]) == 0
    expected = translate.Translator.load(run / "model").predict(["open file", "hide page"])
    assert capsys.readouterr().out == "".join(f"{t}\n" for t in expected)  # an untrained model may print empty lines


def test_transcribe_command_train_then_predict_with_the_run_directory(tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for k, u in enumerate(_speech()):
        shutil.copy(u.path, folder / f"u{k}.wav")
    (tmp_path / "t.tsv").write_text("".join(f"u{k}\t{u.text}\n" for k, u in enumerate(_speech())))
    run = tmp_path / "run"
    assert main(["transcribe", "train", "--data", str(folder), "--transcripts", str(tmp_path / "t.tsv"),
                 "--epochs", "1", "--hidden-size", "8", "--num-layers", "1", "--beam", "2", "--out", str(run),
                 "--quiet"]) == 0
    assert {"cer", "wer", "train_seconds"} <= set(json.loads((run / "metrics.json").read_text())["lstm"])
    capsys.readouterr()
    wavs = [str(folder / "u0.wav"), str(folder / "u1.wav")]
    assert main(["transcribe", "predict", "--model", str(run), *wavs]) == 0
    texts = transcribe.Transcriber.load(run).predict(wavs)
    assert _lines(capsys) == [f"{w}\t{t}" for w, t in zip(wavs, texts)]


@pytest.mark.parametrize("old,new", [
    (["forecast"], ["forecast", "train"]),
    (["forecast", "--dataset", "sunspots"], ["forecast", "train", "--dataset", "sunspots"]),
    (["forecast", "--model", "m", "--data", "d.csv"], ["forecast", "predict", "--model", "m", "--data", "d.csv"]),
    (["translate", "--model", "m", "Save"], ["translate", "predict", "--model", "m", "Save"]),
    (["transcribe", "--model", "m", "a.wav"], ["transcribe", "predict", "--model", "m", "a.wav"]),
    (["transcribe", "digits", "--epochs", "2"], ["transcribe", "train", "--fsdd", "--epochs", "2"]),
])
def test_earlier_spellings_still_run_with_a_note(old, new):
    argv, note = current_spelling(old)
    assert argv == new and note.startswith("note: `lstmkit") and "\n" not in note
    assert current_spelling(new) == (new, None)


def test_an_earlier_spelling_prints_its_note_on_stderr(tmp_path, capsys):
    assert main(["translate", "--model", str(tmp_path), "Save"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("note: `lstmkit translate --model ...` is spelled `lstmkit translate predict ...`")
    assert err[1].startswith("lstmkit translate: error: model:") and len(err) == 2


def test_bad_lstm_arguments_are_one_line_and_status_2(capsys):
    assert main(["inspect", "--hidden-size", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "lstmkit inspect: error: --hidden-size: expected a positive integer, got 0\n"
