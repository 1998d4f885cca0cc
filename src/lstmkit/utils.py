"""Keras 3's `keras.utils` for LSTM programs: padding, one-hot targets, windowed time series,
seeding and splitting, with Keras' arguments and defaults.

Example:
    >>> from lstmkit.utils import pad_sequences, to_categorical
    >>> pad_sequences([[1, 2], [3]]).tolist()
    [[1, 2], [0, 3]]
    >>> to_categorical([0, 2]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""
import itertools

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .errors import LstmkitError
from .seeding import set_seed


def set_random_seed(seed):
    """Seed Python, NumPy and torch (Keras' name for `lstmkit.set_seed`)."""
    set_seed(seed)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Sequences of different lengths -> one array (N, maxlen, ...), as Keras pads them.

    Args:
        sequences: a list of sequences (lists or arrays; items may themselves be vectors).
        maxlen: the output length (default: the longest sequence).
        dtype: the output's dtype (Keras' default 'int32').
        padding: 'pre' (default, Keras') puts the padding before each sequence, 'post' after.
        truncating: 'pre' (default) drops the start of longer sequences, 'post' their end.
        value: the padding value.

    Returns:
        numpy array (len(sequences), maxlen, *item shape).
    """
    for arg, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise LstmkitError(f"{arg}: expected 'pre' or 'post', got {v!r}")
    if not hasattr(sequences, "__len__"):
        raise LstmkitError(f"sequences: expected a list of sequences, got {type(sequences).__name__}")
    arrays = [np.asarray(s) for s in sequences]
    lengths = [len(a) if a.ndim else 1 for a in arrays]
    sample_shape = next((a.shape[1:] for a in arrays if a.ndim and len(a)), ())
    maxlen = max(lengths, default=0) if maxlen is None else maxlen
    if isinstance(value, str) and np.issubdtype(np.dtype(dtype), np.number):
        raise LstmkitError(f"value: {value!r} is a string; use dtype=object to pad with strings")
    out = np.full((len(arrays), maxlen, *sample_shape), value, dtype=dtype)
    for i, a in enumerate(arrays):
        if not a.ndim or not len(a) or not maxlen:
            continue
        kept = a[-maxlen:] if truncating == "pre" else a[:maxlen]
        if kept.shape[1:] != sample_shape:
            raise LstmkitError(f"sequences: item {i} has items of shape {kept.shape[1:]}, expected "
                               f"{sample_shape} as the others")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out


def to_categorical(x, num_classes=None):
    """Class ids (any shape; a trailing axis of 1 is dropped) -> one-hot float array (..., num_classes)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype="int64")
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    flat = x.reshape(-1)
    num_classes = int(flat.max()) + 1 if not num_classes else int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise LstmkitError(f"x: expected class ids in [0, {num_classes - 1}], got ids from "
                           f"{flat.min()} to {flat.max()}")
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(*shape, num_classes)


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero norms left as they are)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)


class _Windows(Dataset):
    """Windows of a series, fetched a batch at a time: `windows[list of window numbers]`."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, single):
        self.data, self.targets, self.starts, self.single = data, targets, starts, single
        self.offsets = np.arange(sequence_length) * sampling_rate  # (L,)

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, numbers):
        s = self.starts[np.asarray(numbers)]
        x = torch.from_numpy(self.data[s[:, None] + self.offsets])  # (B, L, ...)
        y = torch.from_numpy(self.targets[s]) if self.targets is not None else None
        if self.single:
            x, y = x[0], (y[0] if y is not None else None)
        return x if y is None else (x, y)


class TimeseriesDataset(DataLoader):
    """Batches of windows from `timeseries_dataset_from_array`: a torch DataLoader (so `Model.fit`,
    `evaluate` and `predict` take it) yielding (x, y) torch batches (x alone without targets), each
    gathered in one indexing operation; `len()` is the number of batches per pass. A shuffled
    dataset draws a new order on every pass, repeatably from `seed`.
    """

    def __init__(self, windows: _Windows, batch_size, shuffle, seed):
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        order = RandomSampler(windows, generator=gen) if shuffle else SequentialSampler(windows)
        super().__init__(windows, batch_size=None, sampler=BatchSampler(order, batch_size or 1, False))

    def take(self, n):
        """The first n batches (as tf.data's `take`), as a list."""
        return list(itertools.islice(iter(self), n))


def _series(array, arg):
    a = np.asarray(array.detach().cpu() if isinstance(array, torch.Tensor) else array)
    if a.dtype == np.float64:  # Keras models compute in float32
        a = a.astype(np.float32)
    if a.ndim == 0:
        raise LstmkitError(f"{arg}: expected an array with a time axis first, got a scalar")
    return a


def _check_window_args(n, sequence_length, sequence_stride, sampling_rate, start_index, end_index):
    for arg, v in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                   ("sampling_rate", sampling_rate)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise LstmkitError(f"{arg}: expected a positive int, got {v!r}")
    for arg, v in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if v >= n:
            raise LstmkitError(f"{arg}: expected less than the data's length {n}, got {v}")
    if start_index is not None and not 0 <= start_index < n:
        raise LstmkitError(f"start_index: expected 0 <= start_index < {n}, got {start_index}")
    if end_index is not None and not (start_index or 0) < end_index <= n:
        raise LstmkitError(f"end_index: expected {start_index or 0} < end_index <= {n}, got {end_index}")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None,
                                  end_index=None):
    """Sliding windows over `data`, as Keras makes them: window i is
    data[s_i], data[s_i + r], ..., data[s_i + (sequence_length - 1) r] with r = sampling_rate,
    s_i = start_index + i * sequence_stride, and its target is targets[s_i].

    Args:
        data: array (T, ...) of time steps.
        targets: array (T, ...) aligned with data (targets[s_i] for window i), or None for x only.
        sequence_length, sequence_stride, sampling_rate: window length, step between windows'
            starts, step between the time steps inside a window.
        batch_size: windows per batch (None: single windows).
        shuffle, seed: shuffle the windows (repeatably from seed).
        start_index, end_index: use only data[start_index:end_index].

    Returns:
        a TimeseriesDataset: iterable of (x (B, sequence_length, ...), y (B, ...)) torch batches,
        which `Model.fit`/`evaluate`/`predict` accept.

    Example:
        >>> import numpy as np
        >>> from lstmkit.utils import timeseries_dataset_from_array
        >>> ds = timeseries_dataset_from_array(np.arange(10.0), np.arange(10.0) + 3, 3, batch_size=4)
        >>> x, y = next(iter(ds)); x[1].tolist(), y[1].item()
        ([1.0, 2.0, 3.0], 4.0)
    """
    data = _series(data, "data")
    _check_window_args(len(data), sequence_length, sequence_stride, sampling_rate, start_index, end_index)
    start, end = start_index or 0, end_index if end_index is not None else len(data)
    if targets is not None:
        targets = _series(targets, "targets")
    n = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        n = min(n, len(targets) - start)
    starts = start + np.arange(0, max(n, 0), sequence_stride)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size <= 0):
        raise LstmkitError(f"batch_size: expected a positive int or None, got {batch_size!r}")
    windows = _Windows(data, targets, starts, sequence_length, sampling_rate, single=batch_size is None)
    return TimeseriesDataset(windows, batch_size, shuffle, seed)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split arrays (or a tuple/list of arrays with one first axis) into (left, right).

    Args:
        left_size, right_size: an int (samples) or a float in (0, 1) (fraction); at least one of them,
            the other (None) takes the rest.
        shuffle, seed: shuffle the samples first (repeatably from seed).
    """
    parts = list(dataset) if isinstance(dataset, (tuple, list)) else [dataset]
    parts = [p if isinstance(p, torch.Tensor) else np.asarray(p) for p in parts]
    n = len(parts[0])
    if any(len(p) != n for p in parts):
        raise LstmkitError(f"dataset: expected arrays of one length, got lengths {[len(p) for p in parts]}")
    left, right = _sizes(n, left_size, right_size)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    idx_l, idx_r = order[:left], order[left:left + right]
    pick = (lambda p, i: p[torch.as_tensor(i)]) if isinstance(parts[0], torch.Tensor) else (lambda p, i: p[i])
    lefts, rights = [pick(p, idx_l) for p in parts], [pick(p, idx_r) for p in parts]
    if isinstance(dataset, (tuple, list)):
        return tuple(lefts), tuple(rights)
    return lefts[0], rights[0]


def _sizes(n, left_size, right_size):
    def count(size, arg):
        if size is None:
            return None
        if isinstance(size, float) and 0 < size < 1:
            return int(round(size * n))
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= n:
            return size
        raise LstmkitError(f"{arg}: expected an int in [1, {n}] or a float in (0, 1), got {size!r}")
    left, right = count(left_size, "left_size"), count(right_size, "right_size")
    if left is None and right is None:
        raise LstmkitError("left_size, right_size: give at least one of them")
    left = n - right if left is None else left
    right = n - left if right is None else right
    if left + right > n:
        raise LstmkitError(f"left_size, right_size: together {left + right} samples, more than the {n} given")
    return left, right


def get_file(fname=None, origin=None, **kwargs):
    """Refused: lstmkit never downloads at run time. Download the file yourself and pass its path."""
    raise LstmkitError(f"get_file: lstmkit does not download files (no network at run time); fetch "
                       f"{origin or fname!r} yourself and pass the local path")
