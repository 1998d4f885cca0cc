"""Reading files that may be damaged or hostile: regular files only, a size limit on every read,
JSON with bounded nesting and finite numbers, safetensors headers checked before any tensor exists.

Every failure is a one-line `ModelFileError` that names the file (and the field, where there is one).
Nothing here can block (FIFOs and devices are opened non-blocking and refused), recurse without
bound, or allocate more than the stated limit.
"""
import json
import math
import os
import re
import stat
import struct
from pathlib import Path

import numpy as np

from .errors import ModelFileError

MAX_JSON_DEPTH = 64  # lstmkit's own files nest about 8 deep; Python's parser recurses per level
MAX_HEADER_BYTES = 16 << 20  # a safetensors header: names, dtypes, shapes and offsets, never data
DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
          "BOOL": 1}
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_STRUCTURE = bytes(c for c in range(256) if chr(c) not in '"\\[]{}')
_DIGITS = bytes.maketrans(b"0123456789E", b"0000000000e")  # to spot long numbers with `in` (fast)


def read_bytes(file, limit: int, root=None, dir_fd: int | None = None) -> bytes:
    """The bytes of `file`, which must be a regular file of at most `limit` bytes.

    Args:
        file: the path.
        limit: the most bytes accepted.
        root: a directory the file must stay inside once symlinks are resolved (None: no check).
        dir_fd: an open directory: the file is opened by name inside it, so that several files
            are read from one directory even while another is renamed into its path.

    Returns:
        The file's content.

    Raises:
        ModelFileError: missing, not a regular file (FIFO, device, directory), a symlink leaving
            `root`, larger than `limit`, or unreadable.

    Example:
        >>> read_bytes("model/config.json", 1 << 20)  # doctest: +SKIP
    """
    fd, size = open_regular(file, limit, root, dir_fd)
    try:
        return _read_to_end(fd, Path(file), limit)
    finally:
        os.close(fd)


def open_regular(file, limit: int, root=None, dir_fd: int | None = None) -> tuple[int, int]:
    """Open `file` for reading as `read_bytes` checks it: -> (file descriptor, size in bytes)."""
    file = Path(file)
    if root is not None:
        real, top = os.path.realpath(file), os.path.realpath(root)
        if os.path.commonpath([real, top]) != top:
            raise ModelFileError(f"model: {file} is a link that leaves the model directory "
                                 f"(it points to {real})")
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(file.name, flags, dir_fd=dir_fd) if dir_fd is not None else os.open(file, flags)
    except FileNotFoundError:
        raise ModelFileError(f"model: missing file {file}") from None
    except OSError as e:
        raise ModelFileError(f"model: cannot open {file} ({e.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"model: {file} is not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ModelFileError(f"model: {file} is {info.st_size} bytes, more than the limit of "
                                 f"{limit} for this file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _read_to_end(fd: int, file: Path, limit: int, start: int = 0) -> bytes:
    chunks, left, offset = [], limit + 1 - start, start  # +1: a file that grew is still caught
    try:
        while left > 0:
            chunk = os.pread(fd, min(left, 1 << 24), offset)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            offset += len(chunk)
    except OSError as e:
        raise ModelFileError(f"model: cannot read {file} ({e.strerror})") from None
    data = b"".join(chunks)
    if start + len(data) > limit:
        raise ModelFileError(f"model: {file} is more than the limit of {limit} bytes for this file")
    return data


class SafetensorsFile:
    """An open safetensors file (checked as `read_bytes` does) whose header passed
    `safetensors_header`; nothing past the header is read until `read()`, so a file that is
    large or holds no valid header costs no memory.

    Example:
        >>> f = SafetensorsFile("model/model.safetensors", 8 << 30)  # doctest: +SKIP
        >>> f.header, len(f.read())  # doctest: +SKIP
    """

    def __init__(self, file, limit: int, root=None, dir_fd: int | None = None):
        self.file, self.limit, self._fd = Path(file), limit, None
        self._fd, self.size = open_regular(file, limit, root, dir_fd)
        try:
            head = os.pread(self._fd, 8, 0)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            head += os.pread(self._fd, min(n, MAX_HEADER_BYTES), 8) if 0 < n < self.size else b""
            self.header = safetensors_header(head, self.file, self.size)
        except BaseException:
            self.close()
            raise

    def read(self) -> bytes:
        """The whole file; closes it."""
        try:
            return _read_to_end(self._fd, self.file, self.limit)
        finally:
            self.close()

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()


def _kind(mode) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def parse_json(data: bytes, file, max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON bytes strictly: UTF-8, nesting at most `max_depth`, no NaN/Infinity, finite floats.

    Args:
        data: the raw bytes.
        file: named in errors.
        max_depth: the deepest nesting of arrays and objects accepted.

    Returns:
        The parsed value.

    Raises:
        ModelFileError: one line naming `file` and what is wrong.

    Example:
        >>> parse_json(b'{"a": [1, 2.5]}', "config.json")
        {'a': [1, 2.5]}
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"model: {file} is not UTF-8 text (byte {e.start})") from None
    depth = nesting_depth(data)
    if depth > max_depth:
        raise ModelFileError(f"model: {file} nests {depth} levels deep, more than the limit of {max_depth}")
    try:
        if _maybe_huge(data):  # rare: check every float as it is parsed (slower)
            return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        return json.loads(text, parse_constant=_no_constant)
    except _NonFinite as e:
        raise ModelFileError(f"model: {file} holds the non-finite number {e} where a finite one belongs") from None
    except (json.JSONDecodeError, ValueError) as e:  # ValueError: an integer with too many digits
        raise ModelFileError(f"model: {file} is truncated or not JSON ({_one_line(e)})") from None


def _maybe_huge(data: bytes) -> bool:
    """Whether a number literal might overflow to infinity: 300+ digits, or a 3-digit exponent."""
    mapped = data.translate(_DIGITS)
    return b"0" * 300 in mapped or b"e000" in mapped or b"e+000" in mapped


class _NonFinite(Exception):
    pass


def _no_constant(name):
    raise _NonFinite(name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text[:40])
    return value


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of [ and { outside strings, found without recursion (one vector pass)."""
    # only quotes, backslashes and brackets matter: drop the rest first (fast), then the strings
    skeleton = data.translate(None, _NOT_STRUCTURE)
    brackets = np.frombuffer(_STRING.sub(b"", skeleton), dtype=np.uint8)
    steps = np.zeros(len(brackets), dtype=np.int32)
    steps[(brackets == ord("[")) | (brackets == ord("{"))] = 1
    steps[(brackets == ord("]")) | (brackets == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def short_names(names) -> str:
    """The first few of `names` (each cut short) for a one-line message."""
    return str([n[:60] for n in names[:5]]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _one_line(e) -> str:
    return " ".join(str(e).split())[:200]


def read_json_object(file, limit: int, root=None, dir_fd: int | None = None) -> dict:
    """A JSON object from a regular file of at most `limit` bytes (see `read_bytes`, `parse_json`)."""
    value = parse_json(read_bytes(file, limit, root, dir_fd), file)
    if not isinstance(value, dict):
        raise ModelFileError(f"model: {file} should hold a JSON object, got {type(value).__name__}")
    return value


def safetensors_header(data: bytes, file, size: int | None = None) -> dict:
    """Check a safetensors file's header against its size before any tensor is made: known dtypes,
    shapes that fit their byte ranges, ranges inside the file that neither overlap nor leave gaps.

    Args:
        data: the file, or at least its first 8 bytes and header.
        file: named in errors.
        size: the file's size (default: len(data)).

    Returns:
        {tensor name: (dtype code such as "F32", shape tuple)}.

    Raises:
        ModelFileError: not safetensors (a pickle renamed, truncated, a header that lies about sizes).
    """
    size = len(data) if size is None else size
    if len(data) < 8:
        raise ModelFileError(f"model: {file} is truncated or not a safetensors file ({size} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or 8 + n > min(size, len(data)):
        raise ModelFileError(f"model: {file} is truncated or not a safetensors file "
                             f"(header length {n}, file {size} bytes)")
    header = parse_json(data[8:8 + n], f"{file} (header)", max_depth=4)
    if not isinstance(header, dict):
        raise ModelFileError(f"model: {file} is not a safetensors file (header is not an object)")
    header.pop("__metadata__", None)
    out, spans, body = {}, [], size - 8 - n
    for name, entry in header.items():
        dtype, shape = _tensor_entry(name, entry, body, file, spans)
        out[name] = (dtype, shape)
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise ModelFileError(f"model: {file} is not a valid safetensors file (tensors overlap)")
    if sum(b - a for a, b in spans) != body:
        raise ModelFileError(f"model: {file} is not a valid safetensors file (its tensors cover "
                             f"{sum(b - a for a, b in spans)} of its {body} data bytes)")
    return out


def _tensor_entry(name, entry, body, file, spans):
    where = f"model: {file}: tensor {name[:80]!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelFileError(f"{where}: expected dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise ModelFileError(f"{where}: dtype expected one of {', '.join(DTYPES)}, got {dtype!r}")
    if not (isinstance(shape, list) and len(shape) <= 8
            and all(type(d) is int and 0 <= d < 2**48 for d in shape)):
        raise ModelFileError(f"{where}: shape expected a list of at most 8 sizes >= 0, got {str(shape)[:80]}")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1] <= body):
        raise ModelFileError(f"{where}: data_offsets outside the file ({str(offsets)[:80]})")
    if offsets[1] - offsets[0] != math.prod(shape) * DTYPES[dtype]:
        raise ModelFileError(f"{where}: shape {shape} does not fit its {offsets[1] - offsets[0]} bytes")
    spans.append(tuple(offsets))
    return dtype, tuple(shape)
