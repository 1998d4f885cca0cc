"""Length bucketing: batches of sequences of similar length, so that little time goes into padding."""
import numpy as np


def length_batches(lengths, rng=None, *, batch_size: int | None = None, max_padded: int | None = None,
                   shuffle: bool = True, window: int | None = None) -> list[list[int]]:
    """Index batches of similar length, cut into `batch_size` items or at most `max_padded` padded
    steps (items x longest) each, in one of three orders:

    - `rng` None: sorted by length (stable), shortest first: evaluation.
    - `window` None: sorted by length with ties in random order (`rng.random()`), then the batches
      shuffled unless `shuffle` is False (shortest first).
    - `window` K: a random permutation sorted by length only inside spans of K batches, then the
      batches shuffled: their members change from epoch to epoch. `rng` is a numpy Generator here.

    Args:
        lengths: length of each sequence.
        rng: `random.Random` (or a numpy Generator with `window`); None for the evaluation order.
        batch_size: items per batch; or
        max_padded: padded steps per batch (a batch holds at least one item).
        shuffle: batches in random order (with an rng).
        window: see above.

    Returns:
        list of index lists.

    Example:
        >>> length_batches([5, 1, 4, 2], batch_size=2)
        [[1, 3], [2, 0]]
    """
    if (batch_size is None) == (max_padded is None):
        raise ValueError("length_batches: give exactly one of batch_size and max_padded")
    n = len(lengths)
    if rng is None:
        order = sorted(range(n), key=lambda k: lengths[k])
    elif window:
        order, lengths, span = rng.permutation(n), np.asarray(lengths), window * batch_size
        for i in range(0, n, span):
            part = order[i:i + span]
            order[i:i + span] = part[np.argsort(lengths[part], kind="stable")]
        order = order.tolist()
    else:
        order = sorted(range(n), key=lambda k: (lengths[k], rng.random()))
    out = _cut(order, lengths, batch_size, max_padded)
    if rng is not None and shuffle:
        out = [out[k] for k in rng.permutation(len(out))] if window else _shuffled(out, rng)
    return out


def _cut(order, lengths, batch_size, max_padded):
    if batch_size is not None:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    out, current = [], []
    for k in order:
        if current and (len(current) + 1) * lengths[k] > max_padded:
            out.append(current)
            current = []
        current.append(k)
    out.append(current)
    return out


def _shuffled(batches, rng):
    rng.shuffle(batches)
    return batches


class EpochBatches:
    """A dataset for `Model.fit` whose batches differ by epoch: `plan(epoch)` lists the epoch's
    batches (index lists, say), `collate(entry)` makes each one (x, y). fit calls `set_epoch(epoch)`
    before each pass (as torch asks of a DistributedSampler), so a run resumed at epoch k
    (BackupAndRestore) gets epoch k's batches.

    Args:
        plan: epoch -> list of batch entries.
        collate: entry -> (x, y), as fit takes from a dataset.

    Example:
        >>> batches = EpochBatches(lambda epoch: [[0, 1], [2]] if epoch else [[2], [0, 1]], lambda idx: idx)
        >>> batches.set_epoch(1); len(batches), list(batches)
        (2, [[0, 1], [2]])
    """

    def __init__(self, plan, collate):
        self.plan, self.collate, self.epoch = plan, collate, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.plan(self.epoch))

    def __iter__(self):
        return (self.collate(entry) for entry in self.plan(self.epoch))
