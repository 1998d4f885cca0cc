"""What every task shares: the contract's base classes, the one reader of task model directories
and the run directory. Every task trains through `lstmkit.models.Model.fit`.

The contract (docs/architecture.md): each task package exposes a `Config` dataclass validated in
`__post_init__`, `train(data, config, *, verbose=1, callbacks=None) -> Predictor`, and
`evaluate(predictor, data) -> {"lstm": {...}, <baseline>: {...}}`. `data` is the whole data set:
`train` and `evaluate` hold out the same part of it (`config.test_fraction`, or the last
`test_size` steps of a series, chosen with `config.seed`). A Predictor has `predict`, `save(dir)`
and `Predictor.load(dir)`; its config goes under the one key "config" of config.json.
"""
import dataclasses
from pathlib import Path

import torch

from ..errors import LstmkitError, ModelFileError
from ..saving import CONFIG, PREPROCESSING, open_model_dir, read_model_dir, write_model_dir
from . import schema

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
    SCHEMA: dict = {}  # field name -> spec (`tasks.schema`), checked when a model directory is read

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

    A subclass sets `task` and `config_class`, declares what its files hold (`META`: config.json's
    fields besides "config"; `PREPROCESSING`: preprocessing.json's; specs from `tasks.schema`),
    and defines `_parts() -> (meta, state_dict, preprocessing)`,
    `_network(config, meta, preprocessing) -> nn.Module` (the module whose state_dict `_parts`
    saves) and `_restore(config, meta, network, preprocessing) -> Predictor`; `_check(config, meta,
    preprocessing, where)` checks what the specs cannot see one field at a time (sizes that must
    agree). `legacy_config` says where directories written before config.json's one "config" key
    kept it: ("config", KEY) or ("preprocessing", KEY).

    Example:
        >>> from lstmkit.tasks.classify import Classifier
        >>> Classifier.load("runs/classify-movies").predict(["a fine film"])  # doctest: +SKIP
        [('positive', 0.88)]
    """
    task: str = ""
    config_class: type = Config
    legacy_config: tuple = ()
    command: str = ""  # how to train one, when not `lstmkit <task> train`
    META = schema.fields({})  # config.json besides "config": a `tasks.schema` spec
    PREPROCESSING = None  # preprocessing.json's spec; None: the task writes none

    def save(self, path) -> Path:
        """Write the model directory (config.json, model.safetensors, preprocessing.json)."""
        if getattr(self, "runtime", "torch") == "onnx":
            raise LstmkitError(f"save: this {self.task} predictor runs in onnxruntime (loaded with runtime='onnx'), "
                               "which holds no weights to write; load it with runtime='torch' to save it")
        meta, state, prep = self._parts()
        return write_model_dir(path, {"task": self.task, "config": self.config.to_dict(), **meta}, state, prep)

    @classmethod
    def load(cls, path, *, runtime="torch"):
        """Read a directory written by `save`: a run directory (with model/) or the model directory.

        Nothing is built before config.json and preprocessing.json pass the task's schema; the
        network is then built on the meta device and compared with the weights file's header, so a
        mismatch is named in one line and loading allocates no more than the weights' size.

        Args:
            path: the run or model directory.
            runtime: "torch", or "onnx" to run the networks in onnxruntime from the graphs that
                `lstmkit export` wrote into the model directory (`lstmkit.export.runtime`).

        Raises:
            ModelFileError: missing, damaged, foreign, or another task's model; for "onnx", no export.
        """
        if runtime not in ("torch", "onnx"):
            raise LstmkitError(f"runtime: expected 'torch' or 'onnx', got {runtime!r}")
        files = open_model_dir(model_dir(path))
        meta, prep = files.config, files.preprocessing
        if meta.get("task") != cls.task:
            raise ModelFileError(f"model: {files.path} is not a {cls.task} model (task {str(meta.get('task'))[:60]!r})")
        where = {"config": f"model: {files.path / CONFIG}:", "preprocessing": f"model: {files.path / PREPROCESSING}:"}
        cls.META(meta, where["config"])
        if cls.PREPROCESSING is not None:
            if prep is None:
                raise ModelFileError(f"model: {files.path} has no {PREPROCESSING}, which every {cls.task} "
                                     f"model holds; {cls._retrain()}")
            cls.PREPROCESSING(prep, where["preprocessing"])
        config = cls._read_config(meta, prep, where)
        try:
            cls._check(config, meta, prep, where)
            with torch.device("meta"):
                probe = cls._network(config, meta, prep)
            state = files.tensors({k: (v.dtype, tuple(v.shape)) for k, v in probe.state_dict().items()})
            network = cls._network(config, meta, prep)
            network.load_state_dict(state)
            predictor = cls._restore(config, meta, network, prep)
        except ModelFileError:
            raise
        except DAMAGED as e:  # a consistency no check above foresaw: still one line
            raise ModelFileError(f"model: {files.path} holds an inconsistent {cls.task} model "
                                 f"({' '.join(str(e).split())[:200]}); {cls._retrain()}") from None
        if runtime == "onnx":
            from ..export.runtime import attach
            return attach(predictor, files.path)
        return predictor

    @classmethod
    def _read_config(cls, meta, prep, where):
        """The Config, its fields checked against `config_class.SCHEMA` before it is made."""
        if "config" in meta:
            found, at = meta["config"], f"{where['config']} config"
        else:
            kind, key = cls.legacy_config or ("config", "config")
            found, at = (meta if kind == "config" else prep or {}).get(key), f"{where[kind]} {key}"
        if not isinstance(found, dict):
            raise ModelFileError(f"{at}: expected the saved config (an object), got {str(found)[:60]!r}; "
                                 f"{cls._retrain()}")
        found = {cls.config_class.RENAMED.get(k, k): v for k, v in found.items()}
        schema.fields(cls.config_class.SCHEMA)(found, at)
        try:
            return cls.config_class.from_dict(found)
        except LstmkitError as e:  # fields that are valid alone but not together
            raise ModelFileError(f"{at}: {e}") from None

    @classmethod
    def _check(cls, config, meta, prep, where) -> None:
        """Sizes that must agree across fields and files; the base has none."""

    @classmethod
    def _retrain(cls) -> str:
        return f"retrain it with `{cls.command or f'lstmkit {cls.task} train'}`"


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


class Members:
    """Resumable training of networks fitted one after another from one list of callbacks (an
    ensemble's members).

    A `BackupAndRestore(DIR)` among the callbacks becomes one per member, `DIR/member-K` (each
    member's epochs, or every `save_freq` batches, are backed up there), and a member that
    finished keeps its final weights in `DIR/member-K-done`: a run resumed after a kill skips the members that finished and continues
    the one that was interrupted, so it ends with the weights of a run never interrupted. Without
    a BackupAndRestore every member gets the callbacks as they are.

    Args:
        callbacks: the callbacks given to the task's `train`.

    Example:
        >>> members = Members([BackupAndRestore("runs/x/backup")])      # doctest: +SKIP
        >>> for k in range(3):                                          # doctest: +SKIP
        ...     if not members.restore(k, net):
        ...         Model(net).fit(x, y, callbacks=members.callbacks(k)); members.finish(k, net)
        >>> members.close()                                             # doctest: +SKIP
    """

    def __init__(self, callbacks):
        from ..models.backup import BackupAndRestore

        callbacks = list(callbacks or [])
        self.backup = next((cb for cb in callbacks if isinstance(cb, BackupAndRestore)), None)
        self.others = [cb for cb in callbacks if cb is not self.backup]

    def callbacks(self, k: int) -> list:
        """The callbacks for member k's `fit`."""
        from ..models.backup import BackupAndRestore

        if self.backup is None:
            return list(self.others)
        return [*self.others, BackupAndRestore(self.backup.backup_dir / f"member-{k}",
                                               save_freq=self.backup.save_freq)]

    def restore(self, k: int, net) -> bool:
        """Load member k's final weights into `net` if it finished in an earlier run; True if so."""
        if self.backup is None or not (self._done(k) / CONFIG).is_file():
            return False
        from ..saving import check_tensor_specs

        _, state, _ = read_model_dir(self._done(k))
        own = net.state_dict()
        check_tensor_specs({n: (t.dtype, tuple(t.shape)) for n, t in state.items()},
                           {n: (t.dtype, tuple(t.shape)) for n, t in own.items()}, self._done(k))
        net.load_state_dict(state)
        return True

    def finish(self, k: int, net) -> None:
        """Keep member k's final weights (when backing up)."""
        if self.backup is not None:
            write_model_dir(self._done(k), {"member": k}, net.state_dict())

    def close(self) -> None:
        """Every member finished: remove the members' weights if the BackupAndRestore asks to."""
        from ..saving import remove_model_dir

        if self.backup is None or not self.backup.delete_checkpoint:
            return
        for done in sorted(self.backup.backup_dir.glob("member-*-done")):
            remove_model_dir(done)
        if self.backup.backup_dir.is_dir() and not any(self.backup.backup_dir.iterdir()):
            self.backup.backup_dir.rmdir()

    def _done(self, k: int) -> Path:
        return self.backup.backup_dir / f"member-{k}-done"
