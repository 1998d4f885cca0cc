"""The attention LSTM translator on a few hundred real gettext pairs: it memorises them, beam
width 1 equals greedy, padding does not change a translation, save/load round-trips, the CLI works."""
import json

import pytest
import torch

from lstmkit.cli.main import main
from lstmkit.data.pairs import dedup_pairs, read_gettext, split_pairs
from lstmkit.errors import LstmkitError, ModelFileError
from lstmkit.tasks import translate
from lstmkit.tasks.translate import Translator
from lstmkit.tasks.translate.metrics import placeholder_rate, score
from lstmkit.tasks.translate.net import beam_search, greedy_search

TINY = translate.Config(embed_size=128, hidden_size=256, dropout=0.0, label_smoothing=0.0, vocab_size=300,
                        epochs=40, batch_size=8, learning_rate=4e-3, seed=0, max_words=4, test_fraction=0.23,
                        memory=False)  # the plain network; tests/test_translate_memory.py trains the default one


@pytest.fixture(scope="module")
def pool():
    """130 short real pairs: about 100 to train on, 30 held out by `translate.split`."""
    train, test = split_pairs(dedup_pairs(read_gettext("fr"), max_words=4), 0.1, seed=0)
    return train[:100] + test[:30]


@pytest.fixture(scope="module")
def data(pool):
    return translate.split(pool, TINY)


@pytest.fixture(scope="module")
def translator(pool):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is faster, and the suite shares 2 cores
    try:
        return translate.train(pool, TINY, verbose=0)
    finally:
        torch.set_num_threads(threads)


def test_memorises_its_training_pairs(translator, data):
    sources, targets = zip(*data[0])
    hyps = translator.translate(list(sources))
    assert score(hyps, list(targets))["bleu"] > 90
    assert placeholder_rate(sources, hyps)[0] == 1.0


def test_batched_translation_equals_one_by_one(translator, data):
    # padding and batch order must not change a translation (masked encoder and attention)
    sources = [s for s, _ in data[1]] + [s for s, _ in data[0][:10]]
    assert translator.translate(sources) == [translator.translate([s])[0] for s in sources]


def test_beam_width_one_equals_greedy(translator, data):
    for source in [s for s, _ in data[1]] + ["Cannot open %s"]:
        src_ids, found = translator._encode_source(0, source)
        src = torch.tensor([src_ids])
        remaining = torch.zeros(1, len(translator.sentinel_ids), dtype=torch.bool)
        remaining[0, : len(found)] = True
        args = (translator.model, src, remaining, translator.sentinel_ids, 2 * len(src_ids) + 10)
        tokens, attn = beam_search(*args, width=1, alpha=0.6)
        greedy, greedy_attn = greedy_search(*args)
        assert tokens == greedy[0]
        assert attn.shape[1] == len(src_ids) and attn.shape[0] in (len(tokens), len(tokens) + 1)
        assert attn.shape == greedy_attn[0].shape and torch.allclose(attn, greedy_attn[0], atol=1e-6)


def test_beam_search_keeps_placeholders_and_scores_well(translator, data):
    sources = [s for s, _ in data[0][:40]]
    hyps = translator.translate(sources, beam=3)
    assert placeholder_rate(sources, hyps)[0] == 1.0
    assert score(hyps, [t for _, t in data[0][:40]])["bleu"] > 80
    unseen = ["Cannot open %s: %d", "Hello {name}, %(count)s left"]
    for s, h in zip(unseen, translator.translate(unseen, beam=2)):
        assert placeholder_rate([s], [h])[0] == 1.0


def test_save_load_round_trip(translator, data, tmp_path):
    sources = [s for s, _ in data[1]]
    path = translator.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors",
                                                      "preprocessing.json"]
    loaded = Translator.load(path)
    assert loaded.translate(sources) == translator.translate(sources)
    prep = json.loads((path / "preprocessing.json").read_text())
    prep["tokenizer"]["model_proto"] = "AAAA"
    (path / "preprocessing.json").write_text(json.dumps(prep))
    with pytest.raises(ModelFileError, match="tokenizer"):
        Translator.load(path)


def test_cli_train_then_translate(data, tmp_path, capsys):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in data[0][:40]), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["translate", "train", "--pairs", str(tsv), "--epochs", "1", "--out", str(out),
                 "--embed-size", "16", "--hidden-size", "24", "--layers", "2", "--batch-size", "8",
                 "--quiet"]) == 0
    recipe = json.loads((out / "model" / "config.json").read_text())["config"]
    assert (recipe["embed_size"], recipe["hidden_size"], recipe["batch_size"]) == (16, 24, 8)
    assert recipe["num_layers"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"lstm", "copy", "retrieval"}
    assert all(0 <= m["bleu"] <= 100 and 0 <= m["chrf"] <= 100 for m in metrics.values())
    capsys.readouterr()
    inp = tmp_path / "in.txt"
    inp.write_text("Open file\nCannot open %s\n", encoding="utf-8")
    png = tmp_path / "attn.png"
    assert main(["translate", "--model", str(out), "Save", "--input", str(inp), "--beam", "2",
                 "--plot-attention", str(png)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "%s" in lines[2]
    assert png.stat().st_size > 1000


def test_bad_sentences_are_user_errors(translator):
    with pytest.raises(LstmkitError, match="sentence 2: expected non-empty"):
        translator.translate(["Open", "  "])
    with pytest.raises(LstmkitError, match="list of strings"):
        translator.translate("Open")
    with pytest.raises(LstmkitError, match="beam"):
        translator.translate(["Open"], beam=0)
