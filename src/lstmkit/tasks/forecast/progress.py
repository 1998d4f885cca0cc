"""Training progress of a forecast run: one line per ensemble member, with the whole run's elapsed
time and an estimate of what is left."""
import sys
import time

from ...models.callbacks import Callback


class RunClock:
    """Shared by the members of one run: when it started and how long finished members took.

    The estimate of what is left: this member's remaining epochs at its current pace (the member
    is expected to stop after as many epochs as the finished members took on average; the first
    one after the whole budget, an upper bound, since early stopping usually ends it sooner) plus
    the members not started at the finished members' mean time (the current pace before that).

    Example:
        >>> clock = RunClock(members=2, epochs=10)
        >>> clock.eta(member_seconds=1.0, epoch=4)   # 0.2 s an epoch: 5 left (1 s), one member of 10 (2 s)
        3.0
    """

    def __init__(self, members, epochs):
        self.members, self.epochs, self.start = members, epochs, time.perf_counter()
        self.done = []  # (seconds, epochs) of finished members

    def eta(self, member_seconds, epoch):
        pace = member_seconds / (epoch + 1)
        mean_epochs = sum(e for _, e in self.done) / len(self.done) if self.done else self.epochs
        this = pace * max(0.0, min(self.epochs, max(mean_epochs, epoch + 1)) - epoch - 1)
        later = self.members - len(self.done) - 1
        each = sum(s for s, _ in self.done) / len(self.done) if self.done else pace * self.epochs
        return this + later * each


def _clock(seconds):
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


class Progress(Callback):
    """One line per ensemble member, redrawn every epoch on a terminal: a bar over the epoch budget
    (early stopping usually ends it before the bar fills), the losses, the run's elapsed time and
    the estimated time left."""

    def __init__(self, member, clock: RunClock, file=None):
        self.member, self.clock, self.file = member, clock, file or sys.stdout
        self.live, self.text, self.epochs_run = self.file.isatty(), "", 0

    def on_train_begin(self, logs=None):
        self.begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        c, now = self.clock, time.perf_counter()
        self.epochs_run = epoch + 1
        done = int(20 * (epoch + 1) / c.epochs)
        self.text = (f"member {self.member + 1}/{c.members} [{'=' * done}{'.' * (20 - done)}] "
                     f"epoch {epoch + 1}/{c.epochs} - loss {logs['loss']:.4f} - val_loss {logs['val_loss']:.4f}"
                     f" - elapsed {_clock(now - c.start)} - ETA {_clock(c.eta(now - self.begin, epoch))}")
        if self.live:
            self.file.write("\r" + self.text)
            self.file.flush()

    def on_train_end(self, logs=None):
        self.clock.done.append((time.perf_counter() - self.begin, self.epochs_run))
        self.file.write(("\r" if self.live else "") + self.text + "\n")
        self.file.flush()
