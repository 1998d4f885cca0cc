"""The one gate every data reader opens a text file through: a regular file, not binary, UTF-8,
no absurdly long line; each refusal is one line naming the file and the line.

Example:
    >>> from pathlib import Path
    >>> _ = Path("t.txt").write_bytes("caf\\xe9\\n".encode("latin-1"))   # doctest: +SKIP
    >>> read_text("t.txt", "--data")                                      # doctest: +SKIP
    Traceback (most recent call last):
    lstmkit.errors.DataError: --data: t.txt line 1 is not UTF-8 (byte 0xe9 at column 4); re-save the file as UTF-8
"""
import gzip
import warnings
from pathlib import Path

from ..errors import DataError, DataWarning

MAX_LINE = 1 << 20  # characters; a longer "line" is a binary file or a file without line breaks
MAX_FILE = 1 << 31  # bytes read into memory at most


def check_file(path, what: str) -> Path:
    """`path` as a Path if it names a regular file (not a directory, FIFO or device); else DataError.

    Args:
        path: the file; what: how the user gave it, e.g. "--data" (starts the message).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what}: file not found: {str(path)!r}")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise DataError(f"{what}: {str(path)!r} is {kind} (expected a file)")
    if path.stat().st_size > MAX_FILE:
        raise DataError(f"{what}: {path} holds {path.stat().st_size:,} bytes; expected at most {MAX_FILE:,}")
    return path


def read_text(path, what: str) -> str:
    """The text of a UTF-8 file (a leading byte-order mark dropped; `.gz` files are unpacked).

    Args:
        path: the file; what: how the user gave it, e.g. "--data" or "transcripts".

    Returns:
        The text, line endings kept.

    Raises:
        DataError: not a regular file, empty (0 bytes), binary (a NUL byte), not UTF-8, or a line
            longer than MAX_LINE characters; the message names the file and the line.
    """
    path = check_file(path, what)
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read(MAX_FILE + 1)  # unpacked size bounded too: a small file may unpack to gigabytes
        except (OSError, EOFError) as e:
            raise DataError(f"{what}: {path} is not a readable gzip file ({e})") from None
        if len(raw) > MAX_FILE:
            raise DataError(f"{what}: {path} unpacks to more than {MAX_FILE:,} bytes; expected at most that")
    else:
        raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{what}: {path} is empty ({len(raw)} bytes)")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise DataError(f"{what}: cannot read {path} as text: it is binary (a NUL byte on line "
                        f"{_line_of(raw, nul)})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = _line_of(raw, e.start)
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{what}: {path} line {line} is not UTF-8 (byte 0x{raw[e.start]:02x} at column "
                        f"{column}); re-save the file as UTF-8") from None
    _check_line_lengths(text, path, what)
    return text


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _check_line_lengths(text: str, path: Path, what: str) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > MAX_LINE:
            raise DataError(f"{what}: {path} line {number} has {len(line):,} characters; expected at most "
                            f"{MAX_LINE:,} per line (is it a text file with line breaks?)")


def warn_skipped(what: str, count: int, total: int, reasons: list[str]) -> None:
    """One DataWarning: `count` of `total` entries skipped, and why (each reason lists its entries)."""
    warnings.warn(f"{what}: skipped {count} of {total} entries: {'; '.join(reasons)}", DataWarning, stacklevel=3)


def listed(items, limit: int = 10) -> str:
    """'3, 7, 9' or '3, 7, ... and 12 more': a list short enough for one line."""
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
