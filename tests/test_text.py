"""Tokenizers, vocabulary, padding and masks, and the text data loaders (real data, small)."""
import json

import pytest
import torch

from lstmkit.data.text import (TextEncoder, Vocabulary, pad_batch, tokenize_en, tokenize_zh_chars,
                               tokenize_zh_words)
from lstmkit.data.text_datasets import (TextData, dedupe, load_chinese_reviews, load_vader,
                                        read_table)
from lstmkit.errors import DataError, LstmkitError


def test_english_tokens_split_punctuation_and_keep_contractions():
    assert tokenize_en("It's NOT bad... really!") == ["it's", "not", "bad", ".", ".", ".", "really", "!"]
    assert tokenize_en("") == []


def test_chinese_char_and_word_tokens():
    assert tokenize_zh_chars("质量很好，iPhone 15!") == ["质", "量", "很", "好", ",", "iphone", "15", "!"]
    words = tokenize_zh_words("这本书的质量非常好")
    assert "".join(words) == "这本书的质量非常好" and "非常" in words and len(words) < 9


def test_vocabulary_counts_limits_and_round_trips_through_json():
    texts = ["好 好 好 差", "好 差 一般", "很 好"]
    vocab = Vocabulary.build([t.split() for t in texts], min_freq=2)
    assert vocab.tokens == ["<pad>", "<unk>", "好", "差"]
    assert vocab.encode(["好", "没见过"]) == [2, 1]
    assert len(Vocabulary.build([t.split() for t in texts], max_size=3)) == 3
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict(), ensure_ascii=False)))
    assert again.tokens == vocab.tokens and again.decode([3, 2, 0]) == ["差", "好"]
    with pytest.raises(DataError, match="<pad>"):
        Vocabulary(["a", "b"])
    with pytest.raises(LstmkitError, match="min_freq"):
        Vocabulary.build([["a"]], min_freq=0)


@pytest.mark.parametrize("padding,expected", [("right", [[4, 5, 6], [7, 0, 0]]),
                                              ("left", [[4, 5, 6], [0, 0, 7]])])
def test_pad_batch_pads_both_sides_with_a_matching_mask(padding, expected):
    ids, mask = pad_batch([[4, 5, 6], [7]], padding=padding)
    assert ids.tolist() == expected
    assert torch.equal(mask, ids != 0)
    cut, _ = pad_batch([[1, 2, 3, 4]], max_len=2, truncating="start")
    assert cut.tolist() == [[3, 4]]
    with pytest.raises(LstmkitError, match="padding"):
        pad_batch([[1]], padding="middle")


@pytest.mark.parametrize("tokenizer,texts", [
    ("en-word", ["A great film!", "A dull film."]),
    ("zh-char", ["这本书很好看", "质量太差了"]),
    ("zh-word", ["这本书很好看", "质量太差了"])])
def test_text_encoder_round_trip_through_preprocessing_json(tokenizer, texts):
    enc = TextEncoder.fit(texts, tokenizer=tokenizer, max_len=4)
    ids, mask = enc.encode(texts + ["完全没见过的字"])
    assert ids.shape[1] <= 4 and mask.dtype == torch.bool
    assert (ids[-1][mask[-1]] == 1).all()  # unseen tokens are <unk>
    loaded = TextEncoder.from_dict(json.loads(json.dumps(enc.to_dict(), ensure_ascii=False)))
    assert torch.equal(loaded.encode(texts)[0], ids[:2])
    with pytest.raises(DataError, match="preprocessing"):
        TextEncoder.from_dict({"tokenizer": tokenizer})


def test_vader_sets_are_labelled_by_sign_of_score():
    movies, tweets = load_vader("movies"), load_vader("tweets")
    assert 10500 < len(movies) <= 10605 and 4150 < len(tweets) <= 4200
    assert set(movies.labels) == {"positive", "negative"}
    assert "&amp;" not in " ".join(tweets.texts)
    first = {t: y for t, y in zip(tweets.texts, tweets.labels)}
    assert first["Yay. Another good phone interview."] == "positive"


def test_missing_vader_archive_names_the_install_step(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="make install"):
        load_vader("tweets")
    with pytest.raises(DataError, match="tweets"):
        load_vader("poems")


def test_chinese_reviews_are_deduplicated():
    data = load_chinese_reviews()
    assert len(set(data.texts)) == len(data) and 17000 < len(data) < 18000
    assert {"positive", "negative"} == set(data.labels)


def test_dedupe_drops_repeats_and_conflicts():
    data = dedupe(TextData(["a", "b", "a", "c", "c"], ["x", "y", "x", "x", "y"]))
    assert (data.texts, data.labels) == (["a", "b"], ["x", "y"])


@pytest.mark.parametrize("name,content", [
    ("r.csv", 'text,label\n"Great, really",1\n,0\nBad,0\nMeh,\n'),
    ("r.tsv", "text\tlabel\nGreat, really\t1\n\t0\nBad\t0\nMeh\t\n"),
    ("r.jsonl", '{"text": "Great, really", "label": 1}\n{"text": "", "label": 0}\n'
                '{"text": "Bad", "label": 0}\n{"text": "Meh", "label": null}\n')])
def test_read_table_formats_skip_empty_rows(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    data = read_table(path, "text", "label")
    assert data.texts == ["Great, really", "Bad"] and data.labels == ["1", "0"] and data.skipped == 2


def test_read_table_errors(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("review,stars\nok,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column.*'text'.*'label'.*has 'review', 'stars'"):
        read_table(csv, "text", "label")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\nCaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(latin, "text", "label")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_table(bad, "text", None)
    (tmp_path / "r.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match="xlsx"):
        read_table(tmp_path / "r.xlsx", "text")
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "none.csv", "text")
