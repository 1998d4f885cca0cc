"""Bad input to `lstmkit classify`: each case exits with 2 and one line on stderr naming the file and
line, before any training; rows a user expects skipped (an empty text or label) give one warning
that lists them, and the run trains on the rest."""
import json

import pytest

from cli_run import refused, run, warned

GOOD = ["a fine warm film", "a dull cold film", "great fun", "bad and boring", "superb acting", "awful plot"]


def rows(n=60):
    return [(GOOD[k % 6], "pos" if k % 2 == 0 else "neg") for k in range(n)]


def table(path, data, sep=","):
    path.write_text(f"text{sep}label\n" + "".join(f"{t}{sep}{y}\n" for t, y in data), encoding="utf-8")
    return path


def train(path, *flags):
    return ("classify", "train", "--data", path, "--epochs", "1", "--quiet", *flags)


@pytest.mark.parametrize("name,content,match", [
    ("r.csv", b"", r"r\.csv is empty \(0 bytes\)"),
    ("r.csv", b"text,label\n", r"r\.csv: no rows"),
    ("r.csv", b"\x00\x01\x02" * 100, r"cannot read .*r\.csv as text: it is binary"),
    ("r.csv", "text,label\ngood,pos\ncaf\xe9,neg\n".encode("latin-1"), r"r\.csv line 3 is not UTF-8 \(byte 0xe9"),
    ("r.tsv", b"text\tlabel\n" + b"x" * (2 << 20) + b"\tpos\n", r"r\.tsv line 2 has 2,097,156 characters"),
    ("r.csv", b"review,stars\nok,1\n", r"missing column\(s\) 'text', 'label'; the file has 'review', 'stars'"),
    ("r.csv", b"text,label\ngood,pos\nfine, really,pos\n", r"r\.csv: line 3 has 3 fields, the header 2 \(quote"),
    ("r.csv", b"text,label,text\ngood,pos,x\n", r"line 1 \(the header\) names column 'text' twice"),
    ("r.jsonl", b'{"text": "good", "label": "pos"}\n{"text": "bad", "label": "neg"\n', r"r\.jsonl: line 2 is not JSON"),
    ("r.jsonl", b'{"text": "good", "label": "pos", "label": "neg"}\n', r"line 1 names key 'label' twice"),
    ("r.jsonl", b'{"text": {"a": 1}, "label": "pos"}\n', r"line 1, column 'text': expected text or a number, got"),
    ("r.jsonl", b'["good", "pos"]\n', r"line 1 should be a JSON object, got list"),
    ("r.xlsx", b"PK\x03\x04", r"expected a \.csv, \.tsv or \.jsonl file, got '\.xlsx'"),
])
def test_unreadable_files(tmp_path, capsys, name, content, match):
    (tmp_path / name).write_bytes(content)
    refused(capsys, *train(tmp_path / name), match=match)


def test_only_one_class_and_a_missing_file(tmp_path, capsys):
    path = table(tmp_path / "r.csv", [("good", "pos"), ("fine", "pos")])
    refused(capsys, *train(path), match=r"labels: expected at least 2 classes, got only \['pos'\]")
    refused(capsys, *train(tmp_path / "none.csv"), match=r"--data: no such file")


@pytest.mark.parametrize("flags,match", [
    (["--epochs", "0"], r"--epochs: expected a positive integer, got 0"),
    (["--ensemble", "0"], r"--ensemble: expected a positive integer, got 0"),
    (["--seed", "-1"], r"--seed: expected a non-negative integer, got -1"),
    (["--seed", "99999999999"], r"--seed: expected an integer of at most 4,294,967,295"),
    (["--num-layers", "3"], r"argument --num-layers/--layers: invalid choice: 3"),
    (["--tokenizer", "bpe"], r"argument --tokenizer: invalid choice: 'bpe'"),
])
def test_bad_flags(tmp_path, capsys, flags, match):
    refused(capsys, *train(table(tmp_path / "r.csv", rows()), *flags), match=match)


def test_out_is_checked_before_training(tmp_path, capsys):
    path = table(tmp_path / "r.csv", rows())
    refused(capsys, *train(path, "--out", path), match=r"--out: .*r\.csv is also the input --data")
    refused(capsys, *train(path, "--out", path / "run"), match=r"lies under .*r\.csv, which is a file")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model").write_text("mine", encoding="utf-8")
    refused(capsys, *train(path, "--out", tmp_path / "run"), match=r"run/model exists and is not a model directory")
    assert (tmp_path / "run" / "model").read_text() == "mine"


def test_rows_with_an_empty_text_or_label_are_skipped_with_one_warning(tmp_path, capsys):
    data = rows()
    data[3], data[10], data[11] = ("", "neg"), ("   ", "pos"), ("good", "")
    out = warned(capsys, *train(table(tmp_path / "r.csv", data), "--out", tmp_path / "run"),
                 match=r"r\.csv: skipped 3 of 60 entries: an empty text or label on line\(s\) 5, 12, 13$")
    sizes = json.loads((tmp_path / "run" / "metrics.json").read_text())["sizes"]
    assert sum(sizes.values()) == 57 and "wrote" in out


def test_predict_skips_empty_texts_with_one_warning(tmp_path, capsys):
    refused(capsys, "classify", "predict", "--model", tmp_path, " ", match=r"predict: no non-empty texts to label")
    code, err, _ = run(capsys, "classify", "predict", "--model", tmp_path, "good", " ")
    assert code == 2 and len(err) == 2 and "skipped 1 of 2 entries: empty text(s) number 2" in err[0]
    assert "config.json" in err[1]
