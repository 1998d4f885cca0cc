"""Model directories: config.json + model.safetensors (+ preprocessing.json, optimizer.safetensors),
written atomically.

Never pickle: loading a model must not be able to run code. Every file is written into a temporary
directory next to the target, which is then renamed into place, so a crash never leaves a
half-written model and an existing model is replaced only once the new one is complete.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import ModelFileError


def atomic_write(path, data: bytes | str) -> None:
    """Write `data` (str as UTF-8) to `path` so that readers see the old file or the new one, never
    half of one: a temporary file in the same directory, then `os.replace`.

    Example:
        >>> atomic_write("/tmp/lstmkit-example.txt", "hello")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; an output file is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path, obj) -> None:
    """`atomic_write` of `obj` as indented UTF-8 JSON (non-ASCII kept as is)."""
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


FORMAT = "lstmkit-model"
FORMAT_VERSION = 1
CONFIG, WEIGHTS, PREPROCESSING = "config.json", "model.safetensors", "preprocessing.json"
OPTIMIZER = "optimizer.safetensors"  # optional: the optimizer's tensors; its other settings go in config.json


def write_model_dir(path, config: dict, state_dict: dict, preprocessing: dict | None = None,
                    optimizer: dict | None = None) -> Path:
    """Write a model directory atomically.

    Args:
        path: the directory to create or replace.
        config: JSON-serialisable architecture description; `format` keys are added.
        state_dict: name -> tensor; saved as safetensors (contiguous CPU copies).
        preprocessing: optional JSON-serialisable scaler / vocabulary / feature settings.
        optimizer: optional torch optimizer `state_dict()`: its tensors go to optimizer.safetensors,
            the rest (hyperparameters, parameter indices) to config.json under "optimizer_state".

    Returns:
        The directory as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a saved model is an ordinary directory
        import lstmkit

        full = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "lstmkit_version": lstmkit.__version__, "torch_version": torch.__version__, **config}
        if optimizer is not None:
            opt_tensors, full["optimizer_state"] = _split_optimizer_state(optimizer)
            save_file(opt_tensors, str(tmp / OPTIMIZER))
        (tmp / CONFIG).write_text(json.dumps(full, indent=2, ensure_ascii=False))
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
        save_file(tensors, str(tmp / WEIGHTS))
        if preprocessing is not None:
            (tmp / PREPROCESSING).write_text(json.dumps(preprocessing, indent=2, ensure_ascii=False))
        old = path.with_name(f".{path.name}.old")
        if path.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_model_dir(path) -> tuple[dict, dict, dict | None]:
    """Read a model directory written by `write_model_dir`.

    Returns:
        (config, state_dict, preprocessing or None).

    Raises:
        ModelFileError: the directory is missing, or a file is truncated, corrupted or foreign.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"model: expected a model directory with {CONFIG} and {WEIGHTS}, "
                             f"got {str(path)!r} (not a directory)")
    config = _read_json(path / CONFIG, "config")
    if config.get("format") != FORMAT:
        raise ModelFileError(f"model: {path / CONFIG} is not an lstmkit model config "
                             f"(expected format {FORMAT!r}, got {config.get('format')!r})")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"model: {path} was written by a newer lstmkit "
                             f"(format version {config['format_version']} > {FORMAT_VERSION})")
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f"model: missing weights file {weights}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"model: {weights} is truncated or not a safetensors file ({e})") from None
    prep = _read_json(path / PREPROCESSING, "preprocessing") if (path / PREPROCESSING).exists() else None
    return config, state, prep


def read_optimizer_state(path, config: dict) -> dict | None:
    """The optimizer `state_dict()` saved next to a model by `write_model_dir`, or None.

    Raises:
        ModelFileError: optimizer.safetensors is missing, truncated or does not match config.json.
    """
    meta = config.get("optimizer_state")
    if meta is None:
        return None
    file = Path(path) / OPTIMIZER
    try:
        tensors = load_file(str(file))
        state = {}
        for key, names in meta["state"].items():
            state[int(key)] = {**names.get("scalars", {}),
                               **{n: tensors[f"state.{key}.{n}"] for n in names["tensors"]}}
        return {"state": state, "param_groups": meta["param_groups"]}
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelFileError(f"model: {file} is missing, truncated or does not match {CONFIG} ({e})") from None


def _split_optimizer_state(state_dict: dict) -> tuple[dict, dict]:
    """torch optimizer state_dict -> (tensors for safetensors, JSON-able rest)."""
    tensors, state = {}, {}
    for key, values in state_dict["state"].items():
        entry = {"tensors": [], "scalars": {}}
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"state.{key}.{name}"] = value.detach().to("cpu").contiguous()
                entry["tensors"].append(name)
            else:
                entry["scalars"][name] = value
        state[str(key)] = entry
    groups = [{k: (v.item() if torch.is_tensor(v) else v) for k, v in g.items()}
              for g in state_dict["param_groups"]]
    return tensors, {"state": state, "param_groups": groups}


def _read_json(file: Path, what: str) -> dict:
    if not file.is_file():
        raise ModelFileError(f"model: missing {what} file {file}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"model: {file} is truncated or not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"model: {file} should hold a JSON object, got {type(data).__name__}")
    return data
from .models.keras_format import export_keras  # noqa: E402,F401  (Keras 3 .keras files)
