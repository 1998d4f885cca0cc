"""Model directories: config.json + model.safetensors (+ preprocessing.json, optimizer.safetensors).

Writing: every file goes through `atomic_write` (a unique temporary name, fsync of the file, rename,
fsync of the directory). A model directory is assembled in a unique temporary directory and swapped
in under a lock: on Linux with one atomic exchange (there is no moment where the path is missing);
elsewhere with two renames, and a reader that finds the path missing reads the previous model, which
waits under `.NAME.old` until the swap completes. Temporaries left by killed writers are removed.

Reading never runs code (no pickle) and trusts nothing: see `open_model_dir` and `lstmkit.safefile`.
"""
import ctypes
import fcntl
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import optimizer_files
from .errors import LstmkitError, ModelFileError
from .safefile import SafetensorsFile, read_json_object, short_names


def atomic_write(path, data: bytes | str) -> Path:
    """Write `data` to `path` so that a reader sees the old content or the new, never a part.

    Args:
        path: the file to create or replace (its directory is created when missing).
        data: bytes, or text (written as UTF-8).

    Returns:
        The path.

    Example:
        >>> atomic_write("runs/notes.txt", "done\\n")  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        raise LstmkitError(f"path: expected a file to write, got the existing directory {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_json(path, obj) -> Path:
    """`atomic_write` of `obj` as indented UTF-8 JSON; non-finite floats, which JSON cannot hold,
    are written as null (readers refuse NaN and Infinity)."""
    return atomic_write(path, json.dumps(_finite_or_null(obj), indent=2, ensure_ascii=False,
                                         allow_nan=False))


def _finite_or_null(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


def _fsync_dir(directory: Path):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(path) -> int:
    """Delete the temporaries (files or directories) that writers of `path` left behind when they
    were killed: those named `.NAME.PID.*.tmp` whose process no longer runs. Returns how many."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.\w+\.tmp")
    removed = 0
    for entry in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        m = pattern.fullmatch(entry.name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            removed += 1
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


FORMAT = "lstmkit-model"
FORMAT_VERSION = 1
CONFIG, WEIGHTS, PREPROCESSING = "config.json", "model.safetensors", "preprocessing.json"
OPTIMIZER = "optimizer.safetensors"  # optional: the optimizer's tensors; its other settings go in config.json


@dataclass(frozen=True)
class Limits:
    """The largest file of each kind that a reader accepts, in bytes. Loading a model allocates at
    most about 3x the weights file (its bytes, the tensors, the model's own parameters) plus the
    JSON files, whose parsed form takes up to about 10x their size."""

    config: int = 4 << 20
    preprocessing: int = 64 << 20  # vocabularies, tokenizer models and n-gram counts live here
    weights: int = 8 << 30
    optimizer_per_weight: int = 3  # Adam keeps two moments and a step per parameter


LIMITS = Limits()


def write_model_dir(path, config: dict, state_dict: dict, preprocessing: dict | None = None,
                    optimizer: dict | None = None) -> Path:
    """Write a model directory; readers see the previous model or the new one, complete.

    Args:
        path: the directory to create or replace (as a whole). An existing file, or an existing
            non-empty directory that is not a model directory, is refused rather than replaced.
        config: JSON-serialisable architecture description; `format` keys are added.
        state_dict: name -> tensor; saved as safetensors (contiguous CPU copies).
        preprocessing: optional JSON-serialisable scaler / vocabulary / feature settings.
        optimizer: optional torch optimizer `state_dict()`: its tensors go to optimizer.safetensors,
            the rest (hyperparameters, parameter indices) to config.json under "optimizer_state".

    Returns:
        The directory as a Path.

    Example:
        >>> write_model_dir("m", {"task": "demo"}, {"w": torch.zeros(2)})  # doctest: +SKIP
    """
    import lstmkit

    path = Path(path)
    _check_replaceable(path)
    full = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "lstmkit_version": lstmkit.__version__, "torch_version": torch.__version__, **config}
    files = {}
    if optimizer is not None:
        opt_tensors, full["optimizer_state"] = optimizer_files.split_state(optimizer)
        files[OPTIMIZER] = save_safetensors(opt_tensors)
    files[WEIGHTS] = save_safetensors({k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()})
    if preprocessing is not None:
        files[PREPROCESSING] = preprocessing
    files[CONFIG] = full
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        _recover(path)
        remove_stale_temporaries(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        tmp.mkdir()
        try:
            for name, content in files.items():
                (atomic_write_json if isinstance(content, dict) else atomic_write)(tmp / name, content)
            _swap_in(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return path


def remove_model_dir(path) -> None:
    """Delete a model directory so that a kill part-way leaves either all of it or nothing: it is
    renamed to a temporary name first (removed then, or by the next writer of `path`)."""
    path = Path(path)
    with _locked(path):
        if not path.is_dir():
            return
        doomed = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        os.rename(path, doomed)
        _fsync_dir(path.parent)
        shutil.rmtree(doomed, ignore_errors=True)


def _check_replaceable(path: Path):
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise LstmkitError(f"path: expected a new path or a model directory, got the existing "
                           f"file {path}; it is left as it is")
    if path.is_dir() and any(path.iterdir()) and not (path / CONFIG).is_file():
        raise LstmkitError(f"path: {path} is a directory that holds no model ({CONFIG} missing); "
                           "refusing to replace it")


@contextmanager
def _locked(path: Path):
    """Writers of one path take turns: an exclusive lock on `.NAME.lock` next to it, removed when
    done. A writer that locked a lock file another one has just removed tries again, so two
    writers never hold locks on different files at once."""
    lock = path.with_name(f".{path.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _recover(path: Path):
    """A writer killed between its two renames left the previous model only under `.NAME.old`."""
    old = _old(path)
    if old.is_dir() and not path.exists():
        os.replace(old, path)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _swap_in(tmp: Path, path: Path):
    _fsync_dir(tmp)
    if not path.exists():
        os.rename(tmp, path)
    elif _exchange(tmp, path):
        shutil.rmtree(tmp)  # it now holds the previous model
    else:
        old = _old(path)
        os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        shutil.rmtree(old)
    _fsync_dir(path.parent)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    ok = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0
    return ok


TORCH_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                "U8": torch.uint8, "BOOL": torch.bool}


class ModelDir:
    """A model directory whose JSON files and safetensors headers passed the checks; no tensor exists
    until `tensors()` is called, so a caller can first compare `header` with what its config implies.

    Attributes:
        path: the directory read (the previous model's, while a writer swaps a new one in).
        config, preprocessing: the parsed JSON objects (preprocessing None when absent).
        header: {tensor name: (torch dtype, shape)} of model.safetensors.
    """

    def __init__(self, path: Path, limits: Limits):
        self.path, self.limits = path, limits
        for attempt in range(5):
            # every file from one directory: opened by name inside it, not by path, so a writer
            # swapping a new model in cannot give us the old config with the new weights
            dir_fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                self._read(dir_fd)
                return
            except ModelFileError:
                if attempt == 4 or not _replaced(path, dir_fd):
                    raise
            finally:
                os.close(dir_fd)

    def _read(self, dir_fd: int):
        path, limits = self.path, self.limits
        self.config = read_json_object(path / CONFIG, limits.config, path, dir_fd)
        _check_format(self.config, path / CONFIG)
        self._weights = SafetensorsFile(path / WEIGHTS, limits.weights, path, dir_fd)
        self.header = {k: (TORCH_DTYPES[d], s) for k, (d, s) in self._weights.header.items()}
        self.preprocessing = (read_json_object(path / PREPROCESSING, limits.preprocessing, path, dir_fd)
                              if _exists(PREPROCESSING, dir_fd) else None)
        self._optimizer = self._optimizer_error = None
        if self.config.get("optimizer_state") is not None:  # opened now: from this same directory
            limit = limits.optimizer_per_weight * self._weights.size + (1 << 20)
            try:
                self._optimizer = SafetensorsFile(path / OPTIMIZER, limit, path, dir_fd)
            except ModelFileError as e:  # raised only if the state is asked for (not by compile=False)
                self._optimizer_error = e

    def tensors(self, expected: dict | None = None) -> dict:
        """The weights, after checking the header against `expected` ({name: (dtype, shape)},
        e.g. from a model built on the meta device); every floating tensor must be finite."""
        if expected is not None:
            check_tensor_specs(self.header, expected, self.path / WEIGHTS)
        return _materialise(self._weights.read(), self.path / WEIGHTS)

    def optimizer_state(self) -> dict | None:
        """The optimizer `state_dict()` saved with the model (structure checked), or None."""
        meta = self.config.get("optimizer_state")
        if meta is None:
            return None
        file = self.path / OPTIMIZER
        if self._optimizer is None:
            raise self._optimizer_error
        header = self._optimizer.header
        return optimizer_files.join_state(meta, header, _materialise(self._optimizer.read(), file), self.path / CONFIG)


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _replaced(path: Path, dir_fd: int) -> bool:
    """Whether `path` no longer names the directory open as `dir_fd` (a writer swapped it)."""
    try:
        return os.stat(path).st_ino != os.fstat(dir_fd).st_ino
    except FileNotFoundError:
        return True


def open_model_dir(path, limits: Limits = LIMITS) -> ModelDir:
    """Check a model directory's files without building anything (see `ModelDir`).

    Raises:
        ModelFileError: one line naming the file and field: missing, not a regular file, a link
            out of the directory, too large, not UTF-8/JSON, nested too deep, non-finite numbers,
            a foreign or newer format, or a safetensors header that does not fit its file.
    """
    path = Path(path)
    if not path.exists() and _old(path).is_dir():
        path = _old(path)  # a writer is between its two renames: the previous model is complete
    if not path.is_dir():
        raise ModelFileError(f"model: expected a model directory with {CONFIG} and {WEIGHTS}, "
                             f"got {str(path)!r} (not a directory)")
    return ModelDir(path, limits)


def read_model_dir(path) -> tuple[dict, dict, dict | None]:
    """Read a model directory written by `write_model_dir`: every check of `open_model_dir`, and
    finite weights.

    Returns:
        (config, state_dict, preprocessing or None).
    """
    model_dir = open_model_dir(path)
    return model_dir.config, model_dir.tensors(), model_dir.preprocessing


def _check_format(config: dict, file: Path):
    if config.get("format") != FORMAT:
        raise ModelFileError(f"model: {file} is not an lstmkit model config "
                             f"(format: expected {FORMAT!r}, got {str(config.get('format'))[:60]!r})")
    version = config.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"model: {file}: format_version expected a positive integer, "
                             f"got {str(version)[:60]!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"model: {file} was written by a newer lstmkit "
                             f"(format_version {version} > {FORMAT_VERSION})")


def check_tensor_specs(header: dict, expected: dict, file) -> None:
    """Names, dtypes and shapes in `header` must be exactly `expected` (both {name: (dtype, shape)})."""
    missing, unexpected = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
    if missing or unexpected:
        raise ModelFileError(f"model: the weights in {file} do not match its config "
                             f"(missing {short_names(missing)}, unexpected {short_names(unexpected)})")
    for name, (dtype, shape) in expected.items():
        got_dtype, got_shape = header[name]
        if tuple(got_shape) != tuple(shape) or got_dtype != dtype:
            raise ModelFileError(f"model: {file}: tensor {name!r} has shape {tuple(got_shape)} and dtype "
                                 f"{str(got_dtype)[6:]}, the config needs shape {tuple(shape)} and dtype "
                                 f"{str(dtype)[6:]}")


def _materialise(data: bytes, file: Path) -> dict:
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise ModelFileError(f"model: {file} is not a valid safetensors file "
                             f"({' '.join(str(e).split())[:160]})") from None
    for name, t in tensors.items():
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            raise ModelFileError(f"model: {file}: tensor {name[:80]!r} holds NaN or infinite values")
    return tensors


from .models.keras_format import export_keras  # noqa: E402,F401  (Keras 3 .keras files)
