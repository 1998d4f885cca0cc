"""The per-epoch progress line: `12/313 [=>......] - ETA: 3s - loss: 0.0123`.

Updates are throttled (every 0.1 s at most, on a terminal) because reading the running loss means
waiting for the device; verbose=2, or output that is not a terminal, prints one line per epoch.
"""
import sys
import time

INTERVAL = 0.1  # seconds between redraws


class Progress:
    """Draws one epoch's progress.

    Args:
        total: batches in the epoch (None when unknown, e.g. an iterable DataLoader).
        verbose: 0 silent, 1 a live bar, 2 one line at the end of the epoch.
        file: where to write (default sys.stdout).
    """

    def __init__(self, total, verbose, file=None):
        self.total, self.file = total, file or sys.stdout
        self.live = verbose == 1 and self.file.isatty()
        self.quiet = verbose == 0
        self.start = self.last = time.perf_counter()

    def due(self) -> bool:
        """Whether a redraw is due (cheap: no device sync)."""
        if not self.live:
            return False
        now = time.perf_counter()
        if now - self.last < INTERVAL:
            return False
        self.last = now
        return True

    def update(self, done, logs):
        """Redraw with `done` batches finished and the running `logs`."""
        elapsed = time.perf_counter() - self.start
        if self.total:
            eta = elapsed / max(done, 1) * (self.total - done)
            bar = _bar(done, self.total)
            text = f"\r{done}/{self.total} {bar} - ETA: {eta:.0f}s{_format(logs)}"
        else:
            text = f"\r{done} batches - {elapsed:.0f}s{_format(logs)}"
        self.file.write(text)
        self.file.flush()

    def finish(self, done, logs):
        """The epoch's final line, with time per step."""
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(done, 1) * 1000
        count = f"{done}/{self.total}" if self.total else f"{done} steps"
        head = f"\r{count} {_bar(done, self.total)}" if self.live and self.total else count
        self.file.write(f"{head} - {elapsed:.0f}s {per_step:.0f}ms/step{_format(logs)}\n")
        self.file.flush()


def _bar(done, total, width=30):
    filled = int(width * done / total)
    arrow = ">" if filled < width else ""
    return "[" + "=" * filled + arrow + "." * (width - filled - len(arrow)) + "]"


def _format(logs):
    return "".join(f" - {k}: {v:.4g}" for k, v in logs.items())
