"""Turning what users pass to fit / evaluate / predict into tensors, with clear errors, and cutting
them into batches with as little per-batch work as possible."""
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError, LstmkitError
from . import losses


def as_inputs(x, name="x", input_names=None) -> tuple[torch.Tensor, ...]:
    """x as a tuple of tensors: one array, a tuple/list of arrays for a multi-input model, or a
    dict keyed by the inputs' names."""
    if isinstance(x, dict):
        x = _by_name(x, input_names, name, "input")
    if isinstance(x, (tuple, list)) and x and all(_is_array(a) for a in x):
        xs = tuple(as_tensor(a, f"{name}[{k}]") for k, a in enumerate(x))
    else:
        xs = (as_tensor(x, name),)
    for k, t in enumerate(xs):
        if t.dim() > 1 and 0 in t.shape[1:]:
            shown = name if len(xs) == 1 else f"{name}[{k}]"
            raise DataError(f"{shown}: expected at least one time step and one feature, got shape "
                            f"{tuple(t.shape)}")
    return xs


def as_targets(y, output_names, name="y") -> list[torch.Tensor]:
    """y as one tensor per model output: an array, a list of arrays, or a dict keyed by output name."""
    if isinstance(y, dict):
        y = _by_name(y, output_names, name, "output")
    if isinstance(y, (tuple, list)) and y and all(_is_array(a) for a in y):
        ys = [as_tensor(a, f"{name}[{k}]") for k, a in enumerate(y)]
    else:
        ys = [as_tensor(y, name)]
    if output_names is not None and len(ys) != len(output_names):
        raise DataError(f"{name}: the model has {len(output_names)} output(s) "
                        f"({', '.join(output_names)}), got {len(ys)} target array(s)")
    return ys


def _by_name(d, names, arg, what):
    if names is None or set(d) != set(names):
        raise DataError(f"{arg}: expected a dict keyed by the model's {what} names "
                        f"{list(names or [])}, got keys {list(d)}")
    return [d[n] for n in names]


def check_input_shape(x, want, name: str, source: str) -> None:
    """x must be (batch, *want), None in `want` matching any size; else one line naming `source`."""
    if x.dim() - 1 != len(want) or any(w is not None and w != g for w, g in zip(want, x.shape[1:])):
        shown = ", ".join(str(w) for w in want)
        raise LstmkitError(f"{name}: expected shape (batch, {shown}) ({source}), got {tuple(x.shape)}")


def _is_array(a):
    return isinstance(a, (np.ndarray, torch.Tensor))


def as_tensor(a, name) -> torch.Tensor:
    """A numpy array or tensor (or nested list of numbers) as a tensor: float64 becomes float32, as in
    Keras; integers stay int64 (class ids, token ids); bool becomes float32. NaN/inf raise DataError."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as e:
            raise DataError(f"{name}: expected a numpy array or tensor, got {type(a).__name__} ({e})") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise DataError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dim() == 0:
        raise DataError(f"{name}: expected an array with a sample axis, got a scalar")
    if t.dtype == torch.float64 or t.dtype == torch.bool:
        t = t.float()
    elif not t.is_floating_point():
        t = t.long()
    if t.is_floating_point():
        _check_finite(t, name)
    return t


def _check_finite(t, name):
    bad = ~torch.isfinite(t)
    if bad.any():
        sample = int(bad.reshape(len(t), -1).any(1).nonzero()[0])
        raise DataError(f"{name}: expected finite numbers, found NaN or inf "
                        f"({int(bad.sum())} values; first in sample {sample})")


def check_lengths(xs, y, x_name="x", y_name="y"):
    """Every input and y must hold the same number of samples."""
    n = len(xs[0])
    for k, t in enumerate(xs[1:], 1):
        if len(t) != n:
            raise DataError(f"{x_name}: every input must have the same number of samples; "
                            f"{x_name}[0] has {n}, {x_name}[{k}] has {len(t)}")
    if y is not None and len(y) != n:
        raise DataError(f"{x_name} and {y_name}: expected the same number of samples, "
                        f"got {n} and {len(y)}")
    if n == 0:
        raise DataError(f"{x_name}: expected at least one sample, got 0")


def is_dataset(x) -> bool:
    """A torch Dataset or DataLoader, or any other iterable of batches (a generator, a
    `timeseries_dataset_from_array` result); in-memory arrays, lists and dicts are not."""
    if isinstance(x, (Dataset, DataLoader)):
        return True
    return hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, torch.Tensor, list, tuple, dict, str))


def as_loader(data, batch_size, shuffle) -> DataLoader:
    """A Dataset becomes a DataLoader; a DataLoader is used as it is."""
    if isinstance(data, DataLoader):
        return data
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle)


def split_last(xs, ys, w, fraction):
    """Keras' validation_split: the last `fraction` of the samples (before shuffling) validate.

    Returns:
        (xs, ys, w) for training and the same for validation.
    """
    if not 0 <= fraction < 1:
        raise DataError(f"validation_split: expected a fraction in [0, 1), got {fraction!r}")
    n = len(xs[0])
    n_val = int(n * fraction)
    if fraction > 0 and (n_val == 0 or n_val == n):
        raise DataError(f"validation_split: {fraction} of {n} samples leaves no training or no "
                        "validation samples")
    cut = n - n_val
    part = lambda s: (tuple(t[s] for t in xs), [t[s] for t in ys], w[s] if w is not None else None)  # noqa: E731
    return part(slice(None, cut)), part(slice(cut, None))


DEVICE_DATA_LIMIT = 1 << 30  # bytes; a larger data set stays in host memory, moved batch by batch


def place(tensors, device):
    """Move the data set to the model's device once, so batches are slices rather than copies; one
    over DEVICE_DATA_LIMIT stays on the host and `batches` moves each batch instead."""
    size = sum(t.numel() * t.element_size() for t in tensors if t is not None)
    if size > DEVICE_DATA_LIMIT:
        return tensors
    return tuple(t.to(device) if t is not None else None for t in tensors)


def batches(xs, ys, batch_size, shuffle, weights=None, device=None):
    """Yield (xs, ys, weights) batches on `device` (ys a list, one per output, or None). Shuffling
    permutes the whole epoch once (one gather) so each batch is a view; without shuffling batches
    are views of the inputs."""
    n = len(xs[0])
    if shuffle:
        perm = torch.randperm(n).to(xs[0].device)
        xs = tuple(t[perm] for t in xs)
        ys = [t[perm] for t in ys] if ys is not None else None
        weights = weights[perm] if weights is not None else None
    for start in range(0, n, batch_size):
        s = slice(start, start + batch_size)
        yield (tuple(_to(t[s], device) for t in xs),
               [_to(t, device, s) for t in ys] if ys is not None else None, _to(weights, device, s))


def _to(t, device, s=None):
    """t[s] on device (a no-op when it is there already, as for data placed by `place`)."""
    if t is None:
        return None
    t = t if s is None else t[s]
    return t if device is None else t.to(device, non_blocking=True)


def check_batch_size(batch_size):
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise DataError(f"batch_size: expected a positive int, got {batch_size!r}")


def class_weights(class_weight, y, loss):
    """Per-sample weights (B,) from {class: weight}, or None."""
    if not class_weight:
        return None
    if not isinstance(loss, losses.Loss):
        raise DataError("class_weight: needs a built-in loss (a custom callable takes no weights)")
    if y.is_floating_point() and y.dim() > 1 and y.shape[-1] > 1:
        ids = y.argmax(-1)  # one-hot
    else:
        ids = y.reshape(len(y), -1)[:, 0].round().long()
    table = torch.ones(int(max(ids.max().item(), max(class_weight))) + 1)
    for k, v in class_weight.items():
        table[int(k)] = float(v)
    return table[ids]
