"""Every command-line value checked before any work starts, in one place: numbers against their
ranges, paths against what a command reads and writes. Each refusal is one LstmkitError naming
the flag, what was expected and what was given; the CLI prints it as one line and exits with 2.

A flag means the same in every command that has it (`--epochs`, `--seed`, `--out`, ...), so the
rules are keyed by argparse's `dest`.
"""
import math
from pathlib import Path

from ..errors import LstmkitError

SIZE = 8192  # units, features, embedding width: an LSTM of 8192 units already holds ~0.5 G weights
INT_RANGES = {  # dest: (smallest, largest)
    "seed": (0, 2**32 - 1), "synthetic": (0, 100_000), "proj_size": (0, SIZE),
    "epochs": (1, 1_000_000), "ensemble": (1, 1000), "horizon": (1, 1_000_000), "lookback": (1, 1_000_000),
    "test_size": (1, 1_000_000), "season": (1, 1_000_000), "hidden_size": (1, SIZE), "input_size": (1, SIZE),
    "embed_size": (1, SIZE), "num_layers": (1, 64), "vocab_size": (1, 1_000_000), "batch_size": (1, 1_000_000),
    "max_words": (1, 10_000), "beam": (1, 1024), "repeats": (1, 10_000), "threads": (1, 1024),
    "updates": (1, 10_000_000), "port": (0, 65535), "max_body": (1, 2**40), "max_items": (1, 10_000_000),
    "max_batch": (1, 1_000_000), "series_embedding": (0, SIZE), "series_windows": (1, 1_000_000_000),
}
FLOAT_RANGES = {  # dest: (smallest, largest, whether the smallest itself is allowed)
    "lm_weight": (0.0, 1e6, True), "time_limit": (0.0, 1e9, False), "recurrent_dropout": (0.0, 1.0, True),
    "batch_wait_ms": (0.0, 1000.0, True),
}
INPUTS = ("data", "pairs", "input", "transcripts", "future", "model", "files")
OUTPUT_DIRS = ("out",)
OUTPUT_FILES = ("gates", "plot_attention", "onnx")


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def validate(args) -> None:
    """Check every value `args` holds that a rule covers; the first bad one raises LstmkitError.

    Example:
        >>> import argparse
        >>> validate(argparse.Namespace(epochs=0))
        Traceback (most recent call last):
        lstmkit.errors.LstmkitError: --epochs: expected a positive integer, got 0
    """
    given = vars(args)
    for dest, (low, high) in INT_RANGES.items():
        value = given.get(dest)
        if value is not None and not low <= value <= high:
            want = f"an integer of at most {high:,}" if value > high else \
                "a positive integer" if low == 1 else "a non-negative integer"
            raise LstmkitError(f"{flag(dest)}: expected {want}, got {value}")
    for dest, (low, high, closed) in FLOAT_RANGES.items():
        value = given.get(dest)
        if value is not None and not (math.isfinite(value) and (low <= value if closed else low < value)
                                      and value < high):
            span = f"{'[' if closed else '('}{low:g}, {high:g})"
            raise LstmkitError(f"{flag(dest)}: expected a finite number in {span}, got {value}")
    inputs = input_paths(args)
    for dest in OUTPUT_DIRS + OUTPUT_FILES:
        if given.get(dest):
            check_output(flag(dest), given[dest], directory=dest in OUTPUT_DIRS, inputs=inputs)


def input_paths(args) -> dict:
    """{flag: Path} of the files and folders a command reads."""
    found = {}
    for dest in INPUTS:
        value = vars(args).get(dest)
        for item in (value if isinstance(value, list) else [value] if value else []):
            found.setdefault(flag(dest) if dest != "files" else item, Path(item))
    return found


def check_output(name: str, path, *, directory: bool, inputs: dict) -> Path:
    """`path` may be written: not an input, not under a file, and a directory (or new) for a
    directory output, not a directory for a file output.

    Args:
        name: the flag, for the message; path: the output; directory: whether it is a folder.
        inputs: {flag: Path} the command reads (see `input_paths`).
    """
    path = Path(path)
    for source, given in inputs.items():
        if given.exists() and path.exists() and path.resolve() == given.resolve():
            raise LstmkitError(f"{name}: {path} is also the input {source}; expected a new path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise LstmkitError(f"{name}: {path} lies under {parent}, which is a file, not a directory")
            break
    if directory and path.exists() and not path.is_dir():
        raise LstmkitError(f"{name}: expected a directory (new, or an earlier run's), got the existing file {path}")
    if not directory and path.is_dir():
        raise LstmkitError(f"{name}: {path} is a directory; expected a file name")
    return path


def check_run_dir(out, inputs: dict, files=("metrics.json",)) -> Path:
    """A training command's run directory can take its outputs, checked before training starts:
    OUT itself (see `check_output`), OUT/model new or a model directory (it is replaced as a whole),
    and each of `files` not a directory.

    Returns:
        OUT as a Path.
    """
    from ..saving import CONFIG

    out = check_output("--out", out, directory=True, inputs=inputs)
    model = out / "model"
    if model.is_symlink() or (model.exists() and not model.is_dir()):
        raise LstmkitError(f"--out: {model} exists and is not a model directory; it is left as it is")
    if model.is_dir() and any(model.iterdir()) and not (model / CONFIG).is_file():
        raise LstmkitError(f"--out: {model} is a directory that holds no model ({CONFIG} missing); "
                           "refusing to replace it")
    for name in files:
        if (out / name).is_dir():
            raise LstmkitError(f"--out: {out / name} is a directory; the run writes a file there")
    return out
