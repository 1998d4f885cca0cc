"""Bad input to `lstmkit transcribe`: each case exits with 2 and one line on stderr naming the file and
line, before any training; transcript entries without text or without audio are skipped with one
warning that lists them, and the run trains on the rest."""
import numpy as np
import pytest
import soundfile as sf

from cli_run import refused, warned
from lstmkit.data.speech_datasets import load_folder
from lstmkit.errors import DataWarning

WORDS = "yes no stop go left right up down".split()
TINY = ["--epochs", "1", "--hidden-size", "4", "--num-layers", "1", "--quiet"]


def clips(folder, n=len(WORDS)):
    """n short tones as WAV files c0.wav, c1.wav, ... and the matching transcript lines."""
    folder.mkdir(exist_ok=True)
    t = np.arange(2400) / 8000
    for k in range(n):
        sf.write(folder / f"c{k}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype("float32"), 8000)
    return [f"c{k}\t{WORDS[k]}" for k in range(n)]


def train(tmp_path, lines, *flags, raw=None):
    path = tmp_path / "t.tsv"
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())
    return ("transcribe", "train", "--data", tmp_path / "clips", "--transcripts", path, *TINY, *flags)


@pytest.mark.parametrize("raw,match", [
    (b"", r"transcripts: .*t\.tsv is empty \(0 bytes\)"),
    (b"c0\tyes\n\x00\x00\x00", r"transcripts: cannot read .*t\.tsv as text: it is binary \(a NUL byte on line 2\)"),
    ("c0\tyes\nc1\tn\xe9\n".encode("latin-1"), r"t\.tsv line 2 is not UTF-8 \(byte 0xe9 at column 5\)"),
    (b"c0\t" + b"yes " * (1 << 19) + b"\n", r"t\.tsv line 1 has 2,097,155 characters"),
    (b"c0\tyes\nc1 no separator\n", r"t\.tsv line 2: expected 'id<TAB>text' or 'path: text', got 'c1 no separator'"),
    (b"c0\tyes\nc1\tno\nc0\tagain\n", r"t\.tsv line 3: id 'c0' is already given on line 1"),
    (b"x1\tyes\nx2\tno\n", r"no transcript entry of .*t\.tsv has both text and an audio file .*\(0 without text, 2 "),
    (b"c0\t?!\nc1\t...\n", r"--transcripts: no entry of .*t\.tsv has a text with letters or digits"),
])
def test_unreadable_transcripts(tmp_path, capsys, raw, match):
    clips(tmp_path / "clips")
    refused(capsys, *train(tmp_path, [], raw=raw), match=match)


@pytest.mark.parametrize("samples,match", [
    (None, r"audio: cannot read .*c3\.wav as audio"),
    (np.zeros(0, "float32"), r"audio: .*c3\.wav holds no samples"),
    (np.array([0.1, np.nan, 0.2] * 100, "float32"), r"audio: .*c3\.wav holds NaN or infinite samples \(the first at sample 1\)"),
])
def test_unreadable_audio(tmp_path, capsys, samples, match):
    lines = clips(tmp_path / "clips")
    if samples is None:
        (tmp_path / "clips" / "c3.wav").write_bytes(b"RIFF\x00\x00garbage" * 20)
    else:
        sf.write(tmp_path / "clips" / "c3.wav", samples, 8000, subtype="FLOAT")
    refused(capsys, *train(tmp_path, lines), match=match)


@pytest.mark.parametrize("flags,match", [
    (["--lm-weight", "inf"], r"--lm-weight: expected a finite number in \[0, 1e\+06\), got inf"),
    (["--lm-weight", "-0.5"], r"--lm-weight: expected a finite number in \[0, 1e\+06\), got -0\.5"),
    (["--beam", "0"], r"--beam: expected a positive integer, got 0"),
    (["--hidden-size", "0"], r"--hidden-size: expected a positive integer, got 0"),
    (["--synthetic", "-1"], r"--synthetic: expected a non-negative integer, got -1"),
    (["--fsdd"], r"--fsdd: trains on the FSDD MFCCs; leave out --asterisk, --data"),
])
def test_bad_train_flags(tmp_path, capsys, flags, match):
    refused(capsys, *train(tmp_path, clips(tmp_path / "clips"), *flags), match=match)


def test_out_and_folders(tmp_path, capsys):
    lines = clips(tmp_path / "clips")
    refused(capsys, *train(tmp_path, lines, "--out", tmp_path / "clips"), match=r"--out: .*clips is also the input --data")
    refused(capsys, *train(tmp_path, lines, "--out", tmp_path / "t.tsv" / "run"), match=r"lies under .*t\.tsv, which is a file")
    refused(capsys, "transcribe", "train", "--data", tmp_path / "clips" / "c0.wav", "--transcripts", tmp_path / "t.tsv",
            match=r"data: expected a folder of audio files")
    refused(capsys, "transcribe", "predict", "--model", tmp_path, "--lm-weight", "nan", tmp_path / "clips" / "c0.wav",
            match=r"--lm-weight: expected a finite number .* got nan")


def test_entries_without_text_or_audio_are_skipped_with_one_warning(tmp_path, capsys):
    lines = clips(tmp_path / "clips")
    lines[2] = "c2\t"
    lines[7] = "c7:"  # 'id:' with nothing after it: no text either
    lines.insert(5, "gone\tgoodbye")
    out = warned(capsys, *train(tmp_path, lines, "--out", tmp_path / "run"),
                 match=r"skipped 3 of 9 entries: no text on line\(s\) 3, 9; no audio file in .*clips for gone$")
    assert "CER" in out and (tmp_path / "run" / "model" / "config.json").is_file()
    with pytest.warns(DataWarning):
        items = load_folder(tmp_path / "clips", tmp_path / "t.tsv")
    assert [(u.id, u.text) for u in items] == [(f"c{k}", WORDS[k]) for k in (0, 1, 3, 4, 5, 6)]
