"""Text classification: masking, a small real training run, save/load, the CLI and its bad inputs."""
import json
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lstmkit.cli.main import main
from lstmkit.data.text_datasets import TextData, load_chinese_reviews
from lstmkit.errors import DataError, LstmkitError, ModelFileError
from lstmkit.saving import atomic_write_json
from lstmkit.tasks import classify
from lstmkit.tasks.classify.config import POOLINGS
from lstmkit.tasks.classify.net import TextClassifier
from lstmkit.tasks.classify.pipeline import _class_weights


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small LSTM trained on 2,000 real Chinese reviews (positive / negative), saved to disk."""
    data = load_chinese_reviews()
    rows = random.Random(0).sample(list(zip(data.texts, data.labels)), 2000)
    subset = TextData([t for t, _ in rows], [y for _, y in rows], "zh-subset")
    config = classify.Config(lang="zh", max_len=50, embed_dim=32, hidden_size=32, epochs=8,
                                     patience=3, batch_size=32, learning_rate=5e-3, dropout=0.3,
                                     word_dropout=0.1, recurrent_dropout=0.0, seed=0)
    out = tmp_path_factory.mktemp("classify")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small shapes: one thread is faster, and the suite shares 2 cores
    try:
        clf = classify.train(subset, config, verbose=0)
        metrics = classify.evaluate(clf, subset)
    finally:
        torch.set_num_threads(threads)
    clf.save(out / "model")
    atomic_write_json(out / "metrics.json", metrics)
    sizes = dict(zip(("train", "validation", "test"), map(len, classify.split(subset, config))))
    return SimpleNamespace(classifier=clf, metrics=metrics, sizes=sizes), out


@pytest.mark.parametrize("pooling", POOLINGS)
def test_predictions_do_not_depend_on_padding(pooling):
    torch.manual_seed(0)
    net = TextClassifier(50, 3, embed_dim=8, hidden_size=6, num_layers=2, pooling=pooling).eval()
    ids = torch.tensor([[5, 9, 2, 7], [3, 4, 0, 0]])
    right = torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1)
    left = torch.tensor([[0, 0, 5, 9, 2, 7], [0, 0, 0, 0, 3, 4]])
    with torch.no_grad():
        base = net(ids)
        assert torch.allclose(net(right), base, atol=1e-5)
        assert torch.allclose(net(left), base, atol=1e-5)
        assert torch.isfinite(net(torch.zeros(1, 3, dtype=torch.long))).all()  # an all-padding text


def test_small_real_training_run_lands_well_above_majority(trained):
    report, out = trained
    m = report.metrics
    assert m["lstm"]["accuracy"] > m["majority"]["accuracy"] + 0.15
    assert m["tfidf_logreg"]["accuracy"] > m["majority"]["accuracy"] + 0.15
    assert np.sum(m["lstm"]["confusion_matrix"]) == report.sizes["test"]
    saved = json.loads((out / "metrics.json").read_text())
    for name in ("lstm", "tfidf_logreg", "majority"):
        assert set(saved[name]) >= {"accuracy", "macro_f1"}
        assert 0 <= saved[name]["macro_f1"] <= 1


def test_save_load_predict_round_trip(trained):
    report, out = trained
    texts = ["质量很好，非常满意", "太差了，不推荐", "一般"]
    loaded = classify.Classifier.load(out / "model")
    assert loaded.labels == report.classifier.labels == ["negative", "positive"]
    np.testing.assert_allclose(loaded.predict_proba(texts), report.classifier.predict_proba(texts),
                               atol=1e-6)
    label, prob = loaded.predict(texts)[0]
    assert label in loaded.labels and 0.5 <= prob <= 1
    prep = json.loads((out / "model" / "preprocessing.json").read_text(encoding="utf-8"))
    assert prep["text"]["tokenizer"] == "zh-word" and prep["text"]["vocab"]["tokens"][:2] == ["<pad>", "<unk>"]


def test_predict_keeps_input_order(trained):
    clf = trained[0].classifier
    texts = ["好", "这本书写得很好，情节紧凑，人物生动，值得一读", "差评"]
    batch = clf.predict_proba(texts, batch_size=2)
    one_by_one = np.concatenate([clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    assert clf.predict_proba([]).shape == (0, 2) and clf.predict([]) == []


def test_loading_a_foreign_or_damaged_model_fails_clearly(trained, tmp_path):
    _, out = trained
    with pytest.raises(ModelFileError, match="not a directory"):
        classify.Classifier.load(tmp_path / "nothing")
    (out / "model" / "preprocessing.json").rename(tmp_path / "prep.json")
    try:
        with pytest.raises(ModelFileError, match="has no preprocessing.json, which every classify model holds"):
            classify.Classifier.load(out / "model")
    finally:
        (tmp_path / "prep.json").rename(out / "model" / "preprocessing.json")


def test_config_and_split_errors():
    with pytest.raises(LstmkitError, match="pooling"):
        classify.Config(pooling="median")
    with pytest.raises(LstmkitError, match="lang"):
        classify.Config(lang="fr")
    with pytest.raises(DataError, match="at least 2 classes"):
        classify.split(TextData(["a", "b", "c"], ["x", "x", "x"]), classify.Config())
    with pytest.raises(DataError, match="cannot split"):
        classify.split(TextData(["a", "b", "c", "d"], ["x", "x", "x", "y"]), classify.Config())
    weights = _class_weights([0, 0, 0, 1], 2)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])


def _csv(path, rows, header="text,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_train_then_predict(tmp_path, capsys):
    words = {"pos": ["great", "lovely", "superb", "fun"], "neg": ["awful", "dull", "boring", "bad"],
             "mid": ["okay", "average", "fine", "decent"]}
    rng = random.Random(0)
    rows = [f"{rng.choice(words[y])} {rng.choice(words[y])} film,{y}" for y in ["pos", "neg", "mid"] * 30]
    data = _csv(tmp_path / "reviews.csv", rows + [",pos", "  ,neg"])
    out = tmp_path / "run"
    assert main(["classify", "train", "--data", str(data), "--epochs", "2", "--out", str(out),
                 "--ensemble", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    for name in ("lstm", "lstm_single", "tfidf_logreg", "majority"):
        assert f"\n{name} " in printed
    assert "confusion matrix" in printed and "skipped 2" not in printed  # --quiet hides the notes
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"lstm", "tfidf_logreg", "majority"} and metrics["labels"] == ["mid", "neg", "pos"]
    assert np.shape(metrics["lstm"]["confusion_matrix"]) == (3, 3)  # multi-class
    assert main(["classify", "predict", "--model", str(out / "model"), "superb fun", "dull bad"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in ("pos", "neg", "mid")
    new = _csv(tmp_path / "new.jsonl", ['{"review": "lovely"}', '{"review": ""}'], header="")
    assert main(["classify", "predict", "--model", str(out / "model"), "--data", str(new),
                 "--text-col", "review"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 1 and "skipped 1" in captured.err


@pytest.mark.parametrize("content,message", [
    (b"review,stars\nok,1\n", "missing column(s) 'text', 'label'; the file has 'review', 'stars'"),
    (b"text,label\ngood,pos\nfine,pos\n", "expected at least 2 classes, got only ['pos']"),
    ("text,label\nCaf\xe9,pos\nbad,neg\n".encode("latin-1"), "not UTF-8")])
def test_cli_bad_training_data_is_one_line_and_status_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["classify", "train", "--data", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("lstmkit classify: error:")


def test_cli_reports_skipped_empty_texts(tmp_path, capsys):
    path = _csv(tmp_path / "few.csv", [",pos", "good,pos"])
    assert main(["classify", "train", "--data", str(path)]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert "skipped 1 of 2 entries: an empty text or label on line(s) 2" in warning and "2 classes" in error


def test_cli_predict_bad_input(tmp_path, capsys):
    assert main(["classify", "predict", "--model", str(tmp_path), "some text"]) == 2
    assert "model:" in capsys.readouterr().err
    assert main(["classify", "predict", "--model", str(tmp_path)]) == 2
    assert "texts on the command line or --data" in capsys.readouterr().err
    assert main(["classify", "predict", "--model", str(tmp_path), " "]) == 2
    assert "no non-empty texts" in capsys.readouterr().err
