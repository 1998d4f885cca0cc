"""`BackupAndRestore`, as in Keras: a run killed at any moment (even `kill -9`) continues, when fit
is called again with the same arguments, from the last backup (a completed epoch, or with an integer
`save_freq` a batch inside one), and ends with the same weights as a run that was never interrupted
(bit for bit on the same machine and thread count).

The backup is a model directory (see `lstmkit.saving`, written atomically) holding the weights,
the optimizer's state, the random number generators' states (torch, numpy, Python: they decide the
shuffling and the dropout masks) and the other callbacks' state (their JSON-able attributes, and
dicts of tensors such as EarlyStopping's best weights). A backup inside an epoch also keeps the
generators' states at that epoch's start: on resuming, fit draws the epoch's shuffle again from
them, passes over the batches already trained, and continues with the states of the backup. With
`steps_per_epoch` an epoch is part of a pass that carries on across epochs, so the backup keeps the
states the current pass was drawn from and how far into it training was, and a resumed run takes
that pass up at the same batch.
"""
import random
from pathlib import Path

import numpy as np
import torch

from .. import saving
from ..errors import LstmkitError, ModelFileError
from .callbacks import Callback

LATEST = "latest"
_SKIP = {"model", "params"}  # set by fit itself


class BackupAndRestore(Callback):
    """Back up the training state after every epoch (or every `save_freq` batches); restore it when
    fit starts again.

    Args:
        backup_dir: a directory for this run's backup only (created when missing).
        save_freq: "epoch" (back up after every completed epoch) or an int N (after every N
            batches, counted across epochs; a run resumed inside an epoch reports that epoch's loss
            and metrics over the batches it ran after resuming).
        delete_checkpoint: remove the backup once training completes.

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[BackupAndRestore("runs/backup")])  # doctest: +SKIP
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        if save_freq != "epoch" and (type(save_freq) is not int or save_freq < 1):
            raise LstmkitError(f"save_freq: expected 'epoch' or a positive number of batches, got {save_freq!r}")
        if not isinstance(backup_dir, (str, Path)) or not str(backup_dir):
            raise LstmkitError(f"backup_dir: expected a directory path, got {backup_dir!r}")
        self.backup_dir, self.save_freq = Path(backup_dir), save_freq
        self.delete_checkpoint = delete_checkpoint
        self._callbacks, self._start, self._last = [], None, None
        self._seen, self._epoch, self._epoch_rng, self._skip, self._then = 0, 0, None, 0, None
        self._batches, self._pass_rng = None, None  # with steps_per_epoch: fit's batches, a pass's states
        self.trained_logs = None  # a backup inside an epoch: that epoch's logs over its batches until then
        if save_freq != "epoch":  # a hook only then: fit skips per-batch hooks (and a sync) when none is set
            self.on_train_batch_end = self._after_batch

    def resume(self, callbacks, initial_epoch: int, batches=None) -> int:
        """Called by fit after every callback's on_train_begin: restore the backup, if there is one.
        `batches`: fit's training batches (`feed.Batches`); with steps they carry on across epochs.

        Returns:
            (the epoch to start from, batches of it already trained): the epoch after the last
            backed-up one, or the one a backup inside an epoch was taken in; else (`initial_epoch`, 0).
        """
        self._callbacks = [cb for cb in callbacks if cb is not self]
        self._batches = batches if batches is not None and batches.steps is not None else None
        if self._batches is not None:
            self._batches.on_new_pass = self._pass_begins
        latest = self.backup_dir / LATEST
        self._last, self._seen, self._skip, self._then, self.trained_logs = None, 0, 0, None, None
        if not (latest.exists() or (self.backup_dir / f".{LATEST}.old").is_dir()):
            self._start = initial_epoch
            return initial_epoch, 0
        model_dir = saving.open_model_dir(latest)
        meta = model_dir.config.get("backup")
        if not isinstance(meta, dict) or type(meta.get("epoch")) is not int:
            raise ModelFileError(f"backup: {model_dir.path} is not a BackupAndRestore backup")
        tensors = model_dir.tensors()
        self._restore_model(model_dir, tensors)
        try:
            self._seen, self._skip = int(meta.get("seen", 0)), int(meta.get("batch", 0))
            if self._skip:  # inside an epoch: its shuffle is drawn again from its start's states
                _set_rng(meta["epoch_rng"], tensors, "rng_epoch/")
                self._then = meta["rng"], tensors
                self.trained_logs = meta.get("logs") or None
            else:
                _set_rng(meta["rng"], tensors)
            for key, cb in _keyed(self._callbacks):
                _set_state(cb, meta["callbacks"].get(key, {}), tensors, key)
            if self._batches is not None and "pass" in meta:
                self._take_up_pass(meta, tensors)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
            raise ModelFileError(f"backup: {model_dir.path} is damaged (random state or callbacks: "
                                 f"{' '.join(str(e).split())[:120]})") from None
        self._start = meta["epoch"] + 1
        return self._start, self._skip

    def _pass_begins(self):
        self._pass_rng = _rng_tensors("rng_pass/"), _rng_json()

    def _take_up_pass(self, meta, tensors):
        """steps_per_epoch: draw the backed-up pass again from its states, pass over the batches
        taken from it before the backup, then continue with the backup's states."""
        _set_rng(meta["pass"]["rng"], tensors, "rng_pass/")
        self._batches.fast_forward(int(meta["pass"]["offset"]))
        _set_rng(meta["rng"], tensors)
        self._then = None

    def continue_after_skip(self):
        """fit has passed over the batches trained before the backup: take up its random states."""
        if self._then is not None:
            _set_rng(*self._then)
            self._then = None

    def _restore_model(self, model_dir, tensors):
        from .saving import check_optimizer_state  # models.saving imports the model classes

        own = self.model.state_dict()
        weights = {k: v for k, v in tensors.items()
                   if not k.startswith(("rng/", "rng_epoch/", "rng_pass/", "callbacks/"))}
        saving.check_tensor_specs({k: (v.dtype, tuple(v.shape)) for k, v in weights.items()},
                                  {k: (v.dtype, tuple(v.shape)) for k, v in own.items()},
                                  model_dir.path / saving.WEIGHTS)
        with torch.no_grad():
            self.model.load_state_dict(weights)
        opt_state = model_dir.optimizer_state()
        if opt_state is not None:
            self.model._prepare_optimizer()
            check_optimizer_state(self.model.optimizer, opt_state, model_dir.path / saving.OPTIMIZER)
            self.model.optimizer.load_state_dict(opt_state)

    def on_epoch_begin(self, epoch, logs=None):
        # The state now is the state at the end of epoch - 1, after every callback's on_epoch_end
        # (History's included): backing up here, not in on_epoch_end, keeps them all.
        self._epoch = epoch
        if self.save_freq != "epoch":
            self._epoch_rng = _rng_tensors("rng_epoch/"), _rng_json()  # what this epoch's shuffle draws from
        elif self._start is not None and epoch > self._start:
            self._backup(epoch - 1)

    def _after_batch(self, batch, logs=None):
        self._seen += 1
        if self._seen % self.save_freq == 0:
            self._backup(self._epoch - 1, batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._last = epoch

    def on_train_end(self, logs=None):
        # fit calls this also when training fails (an error, Ctrl-C): then the backup stays
        if self._start is None:  # the backup could not be restored: nothing ran
            return
        done = self.model.stop_training or self._start >= self.params["epochs"] or (
            self._last is not None and self._last + 1 >= self.params["epochs"])
        if not done:
            return
        if self.delete_checkpoint:
            saving.remove_model_dir(self.backup_dir / LATEST)
            if self.backup_dir.is_dir() and not any(self.backup_dir.iterdir()):
                self.backup_dir.rmdir()
        elif self._last is not None:
            self._backup(self._last)

    def _backup(self, epoch: int, batch: int = 0, logs=None):
        """Back up the state after `epoch` (the last completed) and `batch` batches of the next."""
        tensors = {**{k: v for k, v in self.model.state_dict().items()}, **_rng_tensors()}
        states = {}
        for key, cb in _keyed(self._callbacks):
            states[key], cb_tensors = _get_state(cb, key)
            tensors.update(cb_tensors)
        meta = {"epoch": epoch, "batch": batch, "seen": self._seen, "rng": _rng_json(), "callbacks": states}
        if self._batches is not None and self._pass_rng is not None:
            tensors.update(self._pass_rng[0])
            meta["pass"] = {"offset": self._batches.offset, "rng": self._pass_rng[1]}
        if batch:
            tensors.update(self._epoch_rng[0])
            meta["epoch_rng"] = self._epoch_rng[1]
            meta["logs"] = {k: float(v) for k, v in (logs or {}).items()}
        optimizer = self.model.optimizer.state_dict() if self.model.optimizer is not None else None
        saving.write_model_dir(self.backup_dir / LATEST, {"backup": meta}, tensors, optimizer=optimizer)


class GeneratorStates(Callback):
    """Keep random streams of one's own (`torch.Generator`s apart from torch's global one, such as
    a data augmentation's) in step with BackupAndRestore: every epoch starts from the state the
    last one ended with, held in `states`, which a backup saves and a resumed run restores.

    Args:
        generators: {name: torch.Generator}.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> cbs = [BackupAndRestore("runs/backup"), GeneratorStates({"augment": gen})]
    """

    def __init__(self, generators: dict):
        self._generators = dict(generators)
        self.states = {k: g.get_state() for k, g in self._generators.items()}

    def on_epoch_begin(self, epoch, logs=None):
        for k, g in self._generators.items():
            g.set_state(self.states[k])

    def on_epoch_end(self, epoch, logs=None):
        self.states = {k: g.get_state() for k, g in self._generators.items()}


def resume(callbacks, initial_epoch: int, batches=None) -> tuple[int, int]:
    """(the epoch fit starts from, batches of it already trained): a BackupAndRestore among
    `callbacks` restores its backup (and, with steps_per_epoch, puts `batches` where it was)."""
    step = 0
    for cb in callbacks:
        if isinstance(cb, BackupAndRestore):
            initial_epoch, step = cb.resume(callbacks, initial_epoch, batches)
    return initial_epoch, step


def trained_logs(callbacks):
    """The logs a backup inside an epoch kept of that epoch's batches (for a resumed epoch whose
    batches were all trained before the backup), or None."""
    for cb in callbacks:
        if isinstance(cb, BackupAndRestore) and cb.trained_logs:
            return dict(cb.trained_logs)
    return None


def skip_trained(batches, n: int, callbacks):
    """The batches after the first `n` (trained before the backup the run resumed from); the
    random states of that backup are restored once they are passed over."""
    it = iter(batches)
    for _ in range(n):
        if next(it, None) is None:
            break
    for cb in callbacks:
        if isinstance(cb, BackupAndRestore):
            cb.continue_after_skip()
    yield from it


def _rng_tensors(prefix="rng/") -> dict:
    out = {f"{prefix}torch": torch.get_rng_state(), f"{prefix}numpy": torch.from_numpy(
        np.random.get_state()[1].astype(np.int64))}
    if torch.cuda.is_available():
        for k, state in enumerate(torch.cuda.get_rng_state_all()):
            out[f"{prefix}cuda{k}"] = state
    return out


def _rng_json() -> dict:
    _, _, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"numpy": [int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(internal), gauss_next]}


def _set_rng(meta: dict, tensors: dict, prefix="rng/"):
    torch.set_rng_state(tensors[f"{prefix}torch"])
    pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state(("MT19937", tensors[f"{prefix}numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = sorted(k for k in tensors if k.startswith(f"{prefix}cuda"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


def _keyed(callbacks):
    """(key, callback) pairs; a key is the class name and its rank among callbacks of that class,
    so a backup restores into the same kinds of callback even if others were added or left out."""
    seen = {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}#{seen[name]}", cb


def _get_state(cb, k: str) -> tuple[dict, dict]:
    """A callback's state: JSON-able attributes, and dicts of tensors (e.g. saved weights)."""
    state, tensors = {}, {}
    for name, value in vars(cb).items():
        if name in _SKIP or name.startswith("_"):
            continue
        if isinstance(value, dict) and value and all(torch.is_tensor(v) for v in value.values()):
            tensors.update({f"callbacks/{k}/{name}/{key}": v.detach().cpu().contiguous()
                            for key, v in value.items()})
            state[name] = {"tensors": list(value)}
        elif _jsonable(value):
            state[name] = {"value": value}
    return state, tensors


def _set_state(cb, state: dict, tensors: dict, k: str):
    for name, entry in state.items():
        if "tensors" in entry:
            setattr(cb, name, {key: tensors[f"callbacks/{k}/{name}/{key}"] for key in entry["tensors"]})
        else:
            setattr(cb, name, entry["value"])


def _jsonable(value) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if isinstance(value, float):
        return True  # non-finite values are written as null, as atomic_write_json does
    if isinstance(value, list):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _jsonable(v) for key, v in value.items())
    return False
