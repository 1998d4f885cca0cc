"""Translation data, placeholders, tokenizer, metrics and the CLI's bad-input errors (no training)."""
import pytest

from lstmkit.cli.main import main
from lstmkit.data.pairs import dedup_pairs, read_gettext, read_tsv, split_pairs
from lstmkit.errors import DataError, ModelFileError
from lstmkit.tasks.translate.metrics import placeholder_rate, retrieval_baseline, score
from lstmkit.tasks.translate.text import (SubwordTokenizer, placeholders, protect, protect_target,
                                          restore)


@pytest.fixture(scope="module")
def fr_pairs():
    return read_gettext("fr")


def test_gettext_pairs_are_single_line_translations(fr_pairs):
    assert len(fr_pairs) > 5000
    assert all(s and t and "\n" not in s + t and "\x04" not in s for s, t in fr_pairs)
    assert any(s == "Permission denied" for s, _ in fr_pairs)


def test_unknown_gettext_language_lists_those_found():
    with pytest.raises(DataError, match=r"'xx_NOPE'.*languages found: .*\bfr\b"):
        read_gettext("xx_NOPE")


def test_tsv_errors_name_lines(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        read_tsv(empty)
    bad = tmp_path / "bad.tsv"
    bad.write_text("Open\tOuvrir\nno tab here\nClose\tFermer\nalso none\n")
    with pytest.raises(DataError, match=r"line\(s\) 2, 4 "):
        read_tsv(bad)
    good = tmp_path / "good.tsv"
    good.write_text("Open\tOuvrir\n\nClose\tFermer\n")
    assert read_tsv(good) == [("Open", "Ouvrir"), ("Close", "Fermer")]


def test_dedup_keeps_most_frequent_target_and_filters_length():
    pairs = [("Open", "Ouvrir"), ("Open", "Ouvre"), ("Open", "Ouvre"), ("a b c d", "x")]
    assert dedup_pairs(pairs) == [("Open", "Ouvre"), ("a b c d", "x")]
    assert dedup_pairs(pairs, max_words=3) == [("Open", "Ouvre")]


def test_split_keeps_each_source_on_one_side(fr_pairs):
    pairs = dedup_pairs(fr_pairs, max_words=8)
    train, test = split_pairs(pairs, 0.1, seed=3)
    assert len(train) + len(test) == len(pairs)
    norm = lambda ps: {" ".join(s.lower().split()) for s, _ in ps}  # noqa: E731
    assert not norm(train) & norm(test)
    assert 0.08 < len(test) / len(pairs) < 0.12
    assert split_pairs(pairs, 0.1, seed=3) == (train, test)


@pytest.mark.parametrize("source, found", [
    ("Cannot open %s: %s", ["%s", "%s"]), ("%d files", ["%d"]), ("Hello %(name)s!", ["%(name)s"]),
    ("Open {name} now", ["{name}"]), ("%1$s of %2$s", ["%1$s", "%2$s"]), ("%-10s|%lu", ["%-10s", "%lu"]),
    ("50% done", []), ("value %.2f %%", ["%.2f", "%%"]),
])
def test_placeholders_are_found_protected_and_restored(source, found):
    assert placeholders(source) == found
    text, got = protect(source)
    assert got == found and "%" not in text.replace("50% done", "")
    assert restore(text, got) == source


def test_target_placeholders_map_to_source_sentinels():
    _, found = protect("Copy %s to %d")
    assert protect_target("Copier vers %d : %s", found) == "Copier vers <ph1> : <ph0>"
    assert protect_target("Ouvrir %1$s", ["%s"]) == "Ouvrir <ph0>"


def test_tokenizer_keeps_sentinels_whole_and_round_trips_json():
    tok = SubwordTokenizer.train(["Open the file <ph0>", "Ouvrir le fichier <ph0>"] * 30, vocab_size=80)
    ids = tok.encode("Open <ph0> file")
    assert tok.sentinel_ids[0] in ids
    again = SubwordTokenizer.from_json(tok.to_json())
    assert again.encode("Open <ph0> file") == ids and again.decode(ids) == "Open <ph0> file"
    with pytest.raises(ModelFileError, match="tokenizer"):
        SubwordTokenizer.from_json({"type": "sentencepiece", "model_proto": "bm90IGEgbW9kZWw="})


@pytest.mark.parametrize("model_type", ("bpe", "char"))
def test_other_tokenizer_types_keep_sentinels_and_round_trip(model_type):
    tok = SubwordTokenizer.train(["Open the file <ph0>", "Ouvrir le fichier <ph0>"] * 30, 80, model_type)
    ids = tok.encode("Open the file <ph0>")
    assert tok.sentinel_ids[0] in ids and tok.decode(ids) == "Open the file <ph0>"
    if model_type == "char":
        assert len(ids) >= len("Openthefile") + 1  # one id per character, the sentinel whole


def test_unknown_tokenizer_type_is_a_clear_error():
    with pytest.raises(ValueError, match="tokenizer: expected one of unigram, bpe, char, got 'word'"):
        SubwordTokenizer.train(["a b"] * 10, 40, "word")


def test_scores_and_chinese_tokenization():
    assert score(["le chat noir est ici"], ["le chat noir est ici"])["bleu"] == 100.0
    # without the zh tokenizer this unsegmented sentence is one word and matches nothing
    zh = score(["无法打开文件"], ["无法打开目录"], "zh_CN")
    assert 0 < zh["bleu"] < 100 and score(["无法打开文件"], ["无法打开目录"], "fr")["bleu"] == 0.0
    assert placeholder_rate(["a %s", "b", "c %d"], ["x %s", "y", "z"]) == (0.5, 2)


def test_retrieval_returns_target_of_nearest_source():
    train = [("Cannot open file", "Impossible d'ouvrir le fichier"), ("Save as", "Enregistrer sous")]
    assert retrieval_baseline(train, ["cannot open files", "Save as..."]) == [
        "Impossible d'ouvrir le fichier", "Enregistrer sous"]


@pytest.mark.parametrize("argv, message", [
    (["translate", "train", "--gettext", "xx_NOPE"], "languages found"),
    (["translate", "train"], "exactly one of --pairs"),
    (["translate", "predict", "--model", "nowhere", "Open", ""], "sentence 2: expected non-empty"),
    (["translate", "predict", "--model", "nowhere"], "expected sentences to translate"),
    (["translate", "train", "--gettext", "fr", "--hidden-size", "0"], "--hidden-size: expected a positive int"),
    (["translate", "train", "--gettext", "fr", "--layers", "-1"], "--num-layers: expected a positive int"),
])
def test_cli_bad_input_is_one_line_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_bad_tsv_files(tmp_path, capsys):
    empty, notab = tmp_path / "e.tsv", tmp_path / "n.tsv"
    empty.write_text("")
    notab.write_text("a\tb\nc d\n")
    assert main(["translate", "train", "--pairs", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["translate", "train", "--pairs", str(notab)]) == 2
    assert "line(s) 2 " in capsys.readouterr().err
    blank = tmp_path / "in.txt"
    blank.write_text("Open\n\nClose\n")
    assert main(["translate", "predict", "--model", "nowhere", "--input", str(blank)]) == 2
    assert "line(s) 2 are empty" in capsys.readouterr().err
