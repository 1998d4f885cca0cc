"""What every task shares: the contract's base classes, the one reader of task model directories,
the run directory, and the epoch loop of the tasks that train outside `Model.fit`.

The contract (docs/architecture.md): each task package exposes a `Config` dataclass validated in
`__post_init__`, `train(data, config, *, verbose=1, callbacks=None) -> Predictor`, and
`evaluate(predictor, data) -> {"lstm": {...}, <baseline>: {...}}`. `data` is the whole data set:
`train` and `evaluate` hold out the same part of it (`config.test_fraction`, or the last
`test_size` steps of a series, chosen with `config.seed`). A Predictor has `predict`, `save(dir)`
and `Predictor.load(dir)`; its config goes under the one key "config" of config.json.
"""
import dataclasses
from pathlib import Path

from ..errors import LstmkitError, ModelFileError
from ..saving import CONFIG, read_model_dir, write_model_dir

# Errors a damaged or foreign file can cause while a task rebuilds itself from what it read.
DAMAGED = (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError)


class Config:
    """Mixin for a task's config dataclass: JSON round trip and the shared checks.

    `RENAMED` maps a field's old name (in model directories written before the shared names) to
    its name now.

    Example:
        >>> from lstmkit.tasks import classify
        >>> classify.Config.from_dict({"test_size": 0.3, "hidden_size": 32}).test_fraction
        0.3
    """
    RENAMED: dict = {}

    def to_dict(self) -> dict:
        """The fields as JSON-able values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """The config a `to_dict` (or an older lstmkit's saved config) describes; fields it does not
        know are dropped, so a directory from a newer patch release still loads."""
        d = {cls.RENAMED.get(k, k): v for k, v in d.items()}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def check_positive(self, *names, optional=()):
        """Each named field must be a positive int (None allowed for those in `optional`)."""
        for name in names:
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise LstmkitError(f"{name}: expected a positive integer, got {value!r}")

    def check_fraction(self, *names):
        """Each named field must be a number in (0, 1)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise LstmkitError(f"{name}: expected a number in (0, 1), got {value!r}")

    def check_choice(self, name, choices):
        """The named field must be one of `choices`."""
        if getattr(self, name) not in choices:
            raise LstmkitError(f"{name}: expected one of {tuple(choices)}, got {getattr(self, name)!r}")


class Predictor:
    """Base of every task's trained model: `save(dir)` and `load(dir)` around the task's own parts.

    A subclass sets `task` and `config_class`, and defines `_parts() -> (meta, state_dict,
    preprocessing)` and `_restore(config, meta, state_dict, preprocessing) -> Predictor`.
    `legacy_config` says where directories written before config.json's one "config" key kept it:
    ("config", KEY) or ("preprocessing", KEY).

    Example:
        >>> from lstmkit.tasks.classify import Classifier
        >>> Classifier.load("runs/classify-movies").predict(["a fine film"])  # doctest: +SKIP
        [('positive', 0.88)]
    """
    task: str = ""
    config_class: type = Config
    legacy_config: tuple = ()
    command: str = ""  # how to train one, when not `lstmkit <task> train`

    def save(self, path) -> Path:
        """Write the model directory (config.json, model.safetensors, preprocessing.json)."""
        meta, state, prep = self._parts()
        return write_model_dir(path, {"task": self.task, "config": self.config.to_dict(), **meta}, state, prep)

    @classmethod
    def load(cls, path, *, runtime="torch"):
        """Read a directory written by `save`: a run directory (with model/) or the model directory.

        Args:
            path: the run or model directory.
            runtime: "torch", or "onnx" to run the networks in onnxruntime from the graphs that
                `lstmkit export` wrote into the model directory (`lstmkit.export.runtime`).

        Raises:
            ModelFileError: missing, damaged, foreign, or another task's model; for "onnx", no export.
        """
        if runtime not in ("torch", "onnx"):
            raise LstmkitError(f"runtime: expected 'torch' or 'onnx', got {runtime!r}")
        directory = model_dir(path)
        meta, state, prep = read_model_dir(directory)
        if meta.get("task") != cls.task:
            raise ModelFileError(f"model: {directory} is not a {cls.task} model (task {meta.get('task')!r})")
        try:
            config = cls.config_class.from_dict(cls._config_dict(meta, prep))
            predictor = cls._restore(config, meta, state, prep)
        except ModelFileError:
            raise
        except DAMAGED as e:
            raise ModelFileError(f"model: {directory} holds an inconsistent {cls.task} model ({e}); "
                                 f"retrain it with `{cls.command or f'lstmkit {cls.task} train'}`") from None
        if runtime == "onnx":
            from ..export.runtime import attach
            return attach(predictor, directory)
        return predictor

    @classmethod
    def _config_dict(cls, meta, prep) -> dict:
        if "config" in meta:
            return meta["config"]
        where, key = cls.legacy_config or ("config", "config")
        found = (meta if where == "config" else prep or {}).get(key)
        if not isinstance(found, dict):
            raise KeyError("no saved config (expected config.json key 'config')")
        return found


def model_dir(path) -> Path:
    """The model directory that `path` names: `path` itself, or `path/model` for a run directory.

    Raises:
        ModelFileError: neither holds config.json.
    """
    path = Path(path)
    if (path / CONFIG).is_file() or not (path / "model" / CONFIG).is_file():
        return path  # read_model_dir says what is missing
    return path / "model"


def run_dir(out, task: str, data_name: str) -> Path:
    """The output directory: `out`, or runs/<task>-<data name> by default."""
    return Path(out) if out else Path("runs") / f"{task}-{data_name}"


def train_epochs(net, epochs, run_epoch, *, steps=None, verbose=1, callbacks=None, optimizer=None):
    """The epoch loop of a task that trains outside `Model.fit`, with Model.fit's display and hooks.

    Args:
        net: the torch module being trained (callbacks see it wrapped in a `Model`).
        epochs: most epochs.
        run_epoch: `run_epoch(epoch, progress) -> (logs, stop)`; it trains one epoch, calls
            `progress.due()` / `progress.update(done, logs)` per batch, returns the epoch's logs
            with "steps" (batches run) among them, and says whether to stop (a time budget ran out).
        steps: batches per epoch, for the bar (None when they vary).
        verbose: 0 silent, 1 a live bar on a terminal, 2 one line per epoch.
        callbacks: `lstmkit.models.callbacks.Callback`s; they get the epoch hooks and may set
            `model.stop_training`.
        optimizer: exposed to callbacks as `model.optimizer`.

    Returns:
        The `History`.
    """
    from ..models import Model
    from ..models.callbacks import History
    from ..models.progress import Progress

    holder, history = Model(net), History()
    holder.optimizer = optimizer
    callbacks = [*(callbacks or []), history]
    for cb in callbacks:
        cb.set_model(holder)
        cb.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})
        cb.on_train_begin()
    try:
        for epoch in range(epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            progress = Progress(steps, verbose)
            logs, stop = run_epoch(epoch, progress)
            progress.finish(logs.pop("steps"), logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if stop or holder.stop_training:
                break
    finally:
        for cb in callbacks:
            cb.on_train_end()
    return history
