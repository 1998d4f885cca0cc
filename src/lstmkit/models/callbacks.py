"""Callbacks, as in Keras: hooks called by `Model.fit` at the start and end of training, epochs and
batches. Set `self.model.stop_training = True` to stop after the current batch (as Keras does)."""
import copy
import csv
import io
import math
import time
import warnings
from pathlib import Path

from ..errors import LstmkitError
from .progress import Progress
from ..saving import atomic_write


class Callback:
    """Base class; override the hooks you need. `self.model` and `self.params` are set by fit.

    Example:
        >>> class Print(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass


def uses_batch_hooks(callbacks) -> bool:
    """Whether any callback overrides a per-batch hook (fit skips the calls, and a sync, otherwise)."""
    def overrides(cb, hook):
        fn = getattr(cb, hook)
        return getattr(fn, "__func__", fn) is not getattr(Callback, hook)
    return any(overrides(cb, h) for cb in callbacks
               for h in ("on_train_batch_begin", "on_train_batch_end"))


class History(Callback):
    """Returned by fit: `.history` maps 'loss', metrics and 'val_*' to one value per epoch."""

    def __init__(self):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class _Monitor(Callback):
    """Shared by the callbacks that watch one logged value for improvement."""

    def __init__(self, monitor, mode, min_delta):
        if mode not in ("auto", "min", "max"):
            raise LstmkitError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":  # Keras' rule: accuracy-like values improve upwards
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: monitor {self.monitor!r} is not in the logs "
                          f"(available: {', '.join(logs or {})}); it does nothing", stacklevel=3)
        return value

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: a logged value ('val_loss' by default).
        patience: epochs without improvement before stopping.
        restore_best_weights: at the end of training, put back the weights of the best epoch (also
            when all epochs ran; Keras restores only when it stops early).
        min_delta, mode: what counts as an improvement ('auto' maximises accuracies).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.restore_best_weights = patience, verbose, restore_best_weights

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:  # Keras: stop after `patience` epochs without gain
            self.stopped_epoch, self.model.stop_training = epoch, True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping (best {self.monitor} "
                  f"{self.best:.6g} at epoch {self.best_epoch + 1})")


class ModelCheckpoint(_Monitor):
    """Save the model (`model.save`) after epochs; `filepath` may hold `{epoch}` and log keys,
    e.g. 'ckpt/{epoch:02d}-{val_loss:.3f}'. With `save_best_only`, only when `monitor` improves;
    with `save_weights_only`, one safetensors file of weights (`model.save_weights`), which any
    Model can write."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__(monitor, mode, 0.0)
        self.filepath, self.verbose, self.save_best_only = str(filepath), verbose, save_best_only
        self.save_weights_only = save_weights_only

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` when `monitor` stalls for `patience` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if not 0 < factor < 1:
            raise LstmkitError(f"factor: expected a number in (0, 1), got {factor!r}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.wait = self.cooldown_left = 0

    def on_epoch_end(self, epoch, logs=None):
        groups = self.model.optimizer.param_groups
        if logs is not None:
            logs["learning_rate"] = groups[0]["lr"]
        value = self._current(logs)
        if value is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_left == 0:
            self.wait += 1
            if self.wait >= self.patience:
                for g in groups:
                    g["lr"] = max(g["lr"] * self.factor, self.min_lr)
                self.cooldown_left, self.wait = self.cooldown, 0
                if self.verbose:
                    print(f"Epoch {epoch + 1}: learning rate reduced to {groups[0]['lr']:.3g}")


class CSVLogger(Callback):
    """Write one CSV row per epoch (epoch and every logged value); the file is rewritten atomically
    after each epoch, so it is always complete."""

    def __init__(self, filename, separator=",", append=False):
        self.path, self.separator, self.append = Path(filename), separator, append

    def on_train_begin(self, logs=None):
        self.rows = []
        if self.append and self.path.exists():
            with open(self.path, newline="") as f:
                self.rows = list(csv.DictReader(f, delimiter=self.separator))

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **(logs or {})})
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, keys, delimiter=self.separator, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, buf.getvalue())


class LambdaCallback(Callback):
    """A callback from plain functions, e.g.
    `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs))`."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_batch_begin=None,
                 on_train_batch_end=None, on_train_begin=None, on_train_end=None):
        for hook, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, hook, fn)


class TerminateOnNaN(Callback):
    """Stop training, rather than fail, when the loss becomes NaN or infinite (as Keras' callback):
    fit then returns the history of the epochs completed before."""


class TimeLimit(Callback):
    """End training once `seconds` have passed since fit began: after the batch that crossed the
    limit, mid-epoch if need be (that epoch's logs cover the batches it ran; the other callbacks get
    its on_epoch_end as usual). `share()`, the part of the time used, lets a schedule decay over the
    time rather than over the steps. With `BackupAndRestore` the budget is the run's, not the
    process's: `used` (the seconds trained until the last batch) is backed up, and a resumed run
    continues from it (list TimeLimit before BackupAndRestore, so a backup sees the batch it follows).

    Args:
        seconds: the time budget, a positive number (None: no limit).
        clock: the clock it is measured on: None for wall time (`time.monotonic`), or
            `time.process_time` for a budget of CPU seconds (a benchmark on a shared machine).

    Example:
        >>> model.fit(x, y, epochs=100, callbacks=[TimeLimit(600)])  # doctest: +SKIP
    """

    def __init__(self, seconds, clock=None):
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or not seconds > 0):
            raise LstmkitError(f"seconds: expected a positive number or None, got {seconds!r}")
        self.seconds, self.used, self._start, self._base, self.clock = seconds, 0.0, None, None, clock

    def on_train_begin(self, logs=None):
        self.used, self._start, self._base = 0.0, self._now(), None

    def _now(self):
        return (self.clock or time.monotonic)()  # looked up at each call: tests patch time.monotonic

    def _elapsed(self) -> float:
        if self._base is None:  # the first look: a backup restored `used`, if any, just before
            self._base = float(self.used)
        return self._base + self._now() - self._start

    def share(self) -> float:
        """Time used / the budget (0 before fit starts or without a limit)."""
        if self.seconds is None or self._start is None:
            return 0.0
        return self._elapsed() / self.seconds

    def on_train_batch_end(self, batch, logs=None):
        self.used = self._elapsed()
        if self.seconds is not None and self.used > self.seconds:
            self.model.stop_training = True


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to `schedule(epoch, lr)`.

    Args:
        schedule: (epoch index from 0, current learning rate) -> new learning rate.
        verbose: 1 prints each change.

    Example:
        >>> LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)  # doctest: +ELLIPSIS
        <...LearningRateScheduler object at ...>
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise LstmkitError(f"schedule: expected a function (epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        groups = self.model.optimizer.param_groups
        lr = self.schedule(epoch, groups[0]["lr"])
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr):
            raise LstmkitError(f"schedule: expected a finite learning rate (a float), got {lr!r}")
        for g in groups:
            g["lr"] = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.6g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.param_groups[0]["lr"]


class ProgbarLogger(Callback):
    """Print each epoch's progress (batches, time, logs), also when fit runs with verbose=0, as
    Keras' ProgbarLogger."""

    def on_epoch_begin(self, epoch, logs=None):
        self.progress, self.seen = Progress(self.params.get("steps"), 2), 0
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.progress.finish(self.seen, logs or {})
from .backup import BackupAndRestore, GeneratorStates  # noqa: E402  (it builds on Callback, defined above)
