"""Length bucketing: batches of sequences of similar length, so that little time goes into padding."""
import random


def length_batches(lengths, rng: random.Random, *, batch_size: int | None = None,
                   max_padded: int | None = None, shuffle: bool = True) -> list[list[int]]:
    """Index batches of similar length: sorted by length (ties in random order), then cut into
    batches of `batch_size` items, or of at most `max_padded` padded steps (items x longest).

    Args:
        lengths: length of each sequence.
        rng: the random source for ties and batch order.
        batch_size: items per batch; or
        max_padded: padded steps per batch (a batch holds at least one item).
        shuffle: batches in random order; False: shortest first.

    Returns:
        list of index lists.

    Example:
        >>> length_batches([5, 1, 4, 2], random.Random(0), batch_size=2, shuffle=False)
        [[1, 3], [2, 0]]
    """
    if (batch_size is None) == (max_padded is None):
        raise ValueError("length_batches: give exactly one of batch_size and max_padded")
    order = sorted(range(len(lengths)), key=lambda k: (lengths[k], rng.random()))
    if batch_size is not None:
        out = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        out, current = [], []
        for k in order:
            if current and (len(current) + 1) * lengths[k] > max_padded:
                out.append(current)
                current = []
            current.append(k)
        out.append(current)
    if shuffle:
        rng.shuffle(out)
    return out
