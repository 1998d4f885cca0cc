"""Bad input to `lstmkit translate`: each case exits with 2 and one line on stderr naming the file and
line, before any training; lines with an empty side and unreadable gettext catalogs are skipped with
one warning that lists them, and the run uses the rest."""
import struct

import pytest

from cli_run import refused, run
from lstmkit.data import pairs as pairs_module
from lstmkit.errors import DataWarning

EN = "open close save file new edit view help copy paste".split()
FR = "ouvrir fermer enregistrer fichier nouveau editer voir aide copier coller".split()
TINY = ["--epochs", "1", "--embed-size", "8", "--hidden-size", "8", "--vocab-size", "40"]


def pair_lines():
    return [f"{EN[a]} {EN[b]}\t{FR[a]} {FR[b]}" for a in range(10) for b in range(10)]


def mo_file(path, entries):
    """A compiled gettext catalog (GNU .mo, little-endian) holding `entries` {msgid: msgstr}."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **entries}
    keys = sorted(entries)
    ids, strs = (b"\0".join(s.encode() for s in column) + b"\0" for column in (keys, [entries[k] for k in keys]))
    start = 28 + 16 * len(keys)
    table, offset = [], start
    for key in keys:
        table.append((len(key.encode()), offset))
        offset += len(key.encode()) + 1
    values, offset = [], start + len(ids)
    for key in keys:
        values.append((len(entries[key].encode()), offset))
        offset += len(entries[key].encode()) + 1
    head = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    body = b"".join(struct.pack("<2I", *e) for e in table + values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + body + ids + strs)
    return path


@pytest.mark.parametrize("content,match", [
    (b"", r"p\.tsv is empty \(0 bytes\) \(expected 'source<TAB>target' lines\)"),
    (b"\n \n", r"p\.tsv is empty \(3 bytes\)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", r"cannot read .*p\.tsv as text: it is binary \(a NUL byte on line 3\)"),
    ("open\touvrir\nsave\tenregistr\xe9\n".encode("latin-1"), r"p\.tsv line 2 is not UTF-8 \(byte 0xe9 at column 15\)"),
    (b"open\t" + b"o" * (3 << 20) + b"\n", r"p\.tsv line 1 has 3,145,733 characters"),
    (b"open\touvrir\nno tab here\nclose\tfermer\nnor here\n", r"line\(s\) 2, 4 have no tab"),
    (b"open\t \n\tfermer\n", r"p\.tsv holds no pair with both sides"),
])
def test_unreadable_pair_files(tmp_path, capsys, content, match):
    (tmp_path / "p.tsv").write_bytes(content)
    refused(capsys, "translate", "train", "--pairs", tmp_path / "p.tsv", *TINY, match=match)


def test_too_few_pairs_to_hold_some_out(tmp_path, capsys):
    (tmp_path / "p.tsv").write_text("open\touvrir\n", encoding="utf-8")
    refused(capsys, "translate", "train", "--pairs", tmp_path / "p.tsv", *TINY,
            match=r"pairs: expected enough distinct pairs .* to hold some out for testing, got 1")


@pytest.mark.parametrize("flags,match", [
    (["--time-limit", "-1"], r"--time-limit: expected a finite number in \(0, 1e\+09\), got -1\.0"),
    (["--time-limit", "inf"], r"--time-limit: expected a finite number in \(0, 1e\+09\), got inf"),
    (["--epochs", "0"], r"--epochs: expected a positive integer, got 0"),
    (["--vocab-size", "-5"], r"--vocab-size: expected a positive integer, got -5"),
    (["--max-words", "0"], r"--max-words: expected a positive integer, got 0"),
    (["--seed", "-1"], r"--seed: expected a non-negative integer, got -1"),
    (["--tokenizer", "words"], r"argument --tokenizer: invalid choice: 'words'"),
])
def test_bad_train_flags(tmp_path, capsys, flags, match):
    (tmp_path / "p.tsv").write_text("\n".join(pair_lines()) + "\n", encoding="utf-8")
    refused(capsys, "translate", "train", "--pairs", tmp_path / "p.tsv", *TINY, *flags, match=match)


def test_out_never_replaces_a_file(tmp_path, capsys):
    path = tmp_path / "p.tsv"
    path.write_text("\n".join(pair_lines()) + "\n", encoding="utf-8")
    refused(capsys, "translate", "train", "--pairs", path, *TINY, "--out", path, match=r"is also the input --pairs")
    (tmp_path / "mine.txt").write_text("mine", encoding="utf-8")
    refused(capsys, "translate", "train", "--pairs", path, *TINY, "--out", tmp_path / "mine.txt",
            match=r"expected a directory .* the existing file")
    assert (tmp_path / "mine.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["mine.txt", "p.tsv"]


@pytest.mark.parametrize("content,match", [
    ("Ouvrir\ncaf\xe9\n".encode("latin-1"), r"--input: .*in\.txt line 2 is not UTF-8"),
    (b"Open\n\nClose\n", r"--input: .*in\.txt: line\(s\) 2 are empty"),
    (b"\x00\x00", r"--input: cannot read .*in\.txt as text: it is binary"),
])
def test_bad_predict_input(tmp_path, capsys, content, match):
    (tmp_path / "in.txt").write_bytes(content)
    refused(capsys, "translate", "predict", "--model", tmp_path, "--input", tmp_path / "in.txt", match=match)


def test_bad_predict_flags(tmp_path, capsys):
    refused(capsys, "translate", "predict", "--model", tmp_path, "--beam", "0", "Open",
            match=r"--beam: expected a positive integer, got 0")
    refused(capsys, "translate", "predict", "--model", tmp_path, "--plot-attention", tmp_path, "Open",
            match=r"--plot-attention: .* is also the input --model")
    (tmp_path / "plots").mkdir()
    refused(capsys, "translate", "predict", "--model", tmp_path, "--plot-attention", tmp_path / "plots", "Open",
            match=r"--plot-attention: .*plots is a directory; expected a file name")
    refused(capsys, "translate", "predict", "--model", tmp_path, "", match=r"sentence 1: expected non-empty text")


def test_damaged_catalogs_are_skipped_with_one_warning(tmp_path):
    mo_file(tmp_path / "fr" / "LC_MESSAGES" / "good.mo", {"Open file": "Ouvrir le fichier", "Close": "Fermer",
                                                          "Untranslated": ""})
    (tmp_path / "fr" / "LC_MESSAGES" / "broken.mo").write_bytes(b"\xde\x12\x04\x95" + b"\xff" * 40)
    (tmp_path / "fr" / "LC_MESSAGES" / "short.mo").write_bytes(b"\x00")
    with pytest.warns(DataWarning, match=r"--gettext fr: skipped 2 of 3 entries: catalogs that cannot be read: "
                                         r"broken\.mo \(.*\), short\.mo"):
        found = pairs_module.read_gettext("fr", tmp_path)
    assert found == [("Close", "Fermer"), ("Open file", "Ouvrir le fichier")]


def test_no_usable_catalog_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "xx" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "xx" / "LC_MESSAGES" / "broken.mo").write_bytes(b"\xde\x12\x04\x95" + b"\xff" * 40)
    monkeypatch.setattr(pairs_module, "LOCALE_DIR", tmp_path)
    refused(capsys, "translate", "train", "--gettext", "xx", *TINY,
            match=r"hold no usable single-line translation \(catalogs that cannot be read: broken\.mo")
    refused(capsys, "translate", "train", "--gettext", "yy", *TINY, match=r"no catalogs for language 'yy'")


def test_lines_with_an_empty_side_are_skipped_with_one_warning(tmp_path, capsys):
    lines = pair_lines()
    lines[4], lines[30] = "open view\t", " \tfermer aide"
    (tmp_path / "p.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, err, out = run(capsys, "translate", "train", "--pairs", tmp_path / "p.tsv", *TINY, "--out", tmp_path / "run")
    assert code == 0 and len(err) == 1, err
    assert "warning: --pairs" in err[0] and "skipped 2 of 100 entries: an empty source or target on line(s) 5, 31" in err[0]
    train, test = (int(w) for w in out.split(" training pairs, ")[0].split()[-1:] + out.split(" training pairs, ")[1].split()[:1])
    assert train + test == 98 and (tmp_path / "run" / "model" / "config.json").is_file()
