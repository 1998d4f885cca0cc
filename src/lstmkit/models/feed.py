"""What fit / evaluate / predict were given, turned into batches: (xs, ys, sample_weight), where xs
is a tuple (one tensor per model input), ys a list (one per output, None for predict) and
sample_weight (B,) or None, all on the model's device.

Sources, as in Keras: in-memory arrays (x one array, a list of arrays for several inputs or a dict
keyed by input name; y likewise per output), or a dataset: a torch Dataset or DataLoader, or any
iterable of (x, y) or (x, y, sample_weight) batches, such as a generator or
`lstmkit.utils.timeseries_dataset_from_array`.
"""
import warnings

import torch

from ..errors import DataError, LstmkitError
from . import data


class Batches:
    """Epochs of batches, with Keras' `steps` rule: without steps, each epoch is one full pass; with
    steps, each epoch takes `steps` batches from one iterator that carries on across epochs and
    restarts when a re-iterable source ends. A one-shot iterator that ends sets `ran_out`.

    Args:
        make: () -> a fresh iterator of (xs, ys, w) batches.
        steps: batches per epoch, or None.
        length: batches in one full pass when known (for the progress bar): a number, or a function
            () -> number for a source whose passes differ.
        one_shot: the source cannot be iterated twice (a generator).
        set_epoch: the source's `set_epoch(epoch)`, called before each epoch's pass, or None.
    """

    def __init__(self, make, steps=None, length=None, one_shot=False, set_epoch=None):
        self.make, self.steps, self.one_shot, self.ran_out = make, steps, one_shot, False
        self._length, self._set_epoch = length, set_epoch
        self._it = None
        # with steps: batches taken from the current pass, and a hook called before each pass
        # begins (BackupAndRestore keeps the random state a pass's shuffle is drawn from)
        self.offset, self.on_new_pass = 0, None

    @property
    def length(self):
        if self.steps is not None:
            return self.steps
        return self._length() if callable(self._length) else self._length

    def set_epoch(self, epoch: int):
        """Tell the source which epoch comes next (a source whose batches depend on it)."""
        if self._set_epoch is not None:
            self._set_epoch(epoch)

    def __call__(self, start=0):
        """One epoch's batches; with steps, `start` of them were trained before a resume."""
        if self.steps is None:
            if self.one_shot and self._it is not None:
                self.ran_out = True
                return
            self._it = self.make()
            yield from self._it
            return
        for _ in range(self.steps - start):
            batch = self._next()
            if batch is None:
                return
            yield batch

    def fast_forward(self, n: int):
        """With steps: take up the current pass where a backup left it, `n` batches into it."""
        for _ in range(n):
            if self._next() is None:
                return

    def _next(self):
        for attempt in range(2):
            if self._it is None:
                if self.on_new_pass is not None:
                    self.on_new_pass()
                self._it, self.offset = self.make(), 0
            try:
                batch = next(self._it)
                self.offset += 1
                return batch
            except StopIteration:
                self._it = None
                if self.one_shot or attempt:
                    self.ran_out = True
                    warnings.warn("fit: your input ran out of data; training stops (give "
                                  "steps_per_epoch * epochs batches, or a re-iterable dataset)",
                                  stacklevel=4)
                    return None
        return None


def check_steps(steps, name):
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise LstmkitError(f"{name}: expected a positive int or None, got {steps!r}")


def arrays(model, x, y, sample_weight=None, name="x"):
    """Validated tensors (xs, ys, w) for in-memory data, on the model's device; builds the model
    from x if needed and checks the targets against the compiled losses."""
    if y is None:
        raise LstmkitError(f"y: required with array inputs (got x of type {type(x).__name__})")
    xs = data.as_inputs(x, name, getattr(model, "input_names", None))
    ys = data.as_targets(y, model.output_names, "y" if name == "x" else f"{name} y")
    w = data.as_tensor(sample_weight, "sample_weight").float() if sample_weight is not None else None
    data.check_lengths(xs, ys[0], name, "y")
    for k, t in enumerate(ys[1:], 1):
        data.check_lengths(xs, t, name, f"y[{k}]")
    if w is not None:
        if w.dim() != 1:
            raise DataError(f"sample_weight: expected one weight per sample, shape ({len(xs[0])},), "
                            f"got {tuple(w.shape)}")
        data.check_lengths(xs, w, name, "sample_weight")
    model._build(xs)
    model._check_inputs(xs)
    if model.compiled is not None:
        model.compiled.check_values(ys)
    return place(model, xs, ys, w)


def place(model, xs, ys, w):
    placed = data.place((*xs, *ys, w), model._device())
    return placed[:len(xs)], list(placed[len(xs):len(xs) + len(ys)]), placed[-1]


def in_memory(model, xs, ys, w, batch_size, shuffle, steps=None):
    device = model._device()
    make = lambda: data.batches(xs, ys, batch_size, shuffle, w, device)  # noqa: E731
    return Batches(make, steps, -(-len(xs[0]) // batch_size))


def dataset(model, source, batch_size, shuffle, steps=None, with_targets=True):
    """Batches from a Dataset, DataLoader or iterable of batches. A source with a `set_epoch(epoch)`
    method (`lstmkit.data.batching.EpochBatches`, or torch's convention for a DataLoader's sampler)
    is told the epoch before each pass."""
    if isinstance(source, torch.utils.data.Dataset):
        source = data.as_loader(source, batch_size, shuffle)
    one_shot = iter(source) is source
    length = (lambda: len(source)) if hasattr(source, "__len__") else None
    device = model._device()
    told = source.sampler if isinstance(source, torch.utils.data.DataLoader) else source

    def make():
        for item in source:
            yield unpack(model, item, device, with_targets)
    return Batches(make, steps, length, one_shot, getattr(told, "set_epoch", None))


def unpack(model, item, device, with_targets=True):
    """One dataset item -> (xs, ys or None, w or None) on `device`."""
    if with_targets and not (isinstance(item, (tuple, list)) and len(item) in (2, 3)):
        raise DataError("x: a dataset must yield (x, y) or (x, y, sample_weight) batches, got "
                        f"{type(item).__name__}")
    if not with_targets:  # predict: (x, y[, w]) is a batch with targets (a DataLoader makes it a list)
        item = (item[0] if isinstance(item, (tuple, list)) and len(item) in (2, 3) else item, None)
    x, y, w = (*item, None)[:3]
    xs = data.as_inputs(tuple(x) if isinstance(x, list) else x, "x", getattr(model, "input_names", None))
    model._build(xs)
    xs = tuple(t.to(device) for t in xs)
    if y is None:
        return xs, None, None
    ys = [t.to(device) for t in data.as_targets(y, model.output_names, "y")]
    return xs, ys, (data.as_tensor(w, "sample_weight").float().to(device) if w is not None else None)


def fit_batches(model, x, y, sample_weight, batch_size, shuffle, validation_split, class_weight,
                steps_per_epoch):
    """-> (training Batches, validation arrays (xs, ys, w) or None) for fit."""
    if data.is_dataset(x):
        if y is not None:
            raise LstmkitError("y: leave it out when x is a dataset of (x, y) batches")
        if validation_split:
            raise LstmkitError("validation_split: not available for a dataset; pass validation_data")
        if class_weight or sample_weight is not None:
            raise LstmkitError("class_weight, sample_weight: not available for a dataset; yield "
                               "(x, y, sample_weight) batches instead")
        return dataset(model, x, batch_size, shuffle, steps_per_epoch), None
    xs, ys, w = arrays(model, x, y, sample_weight)
    val = None
    if validation_split:
        (xs, ys, w), val = data.split_last(xs, ys, w, validation_split)
    cw = data.class_weights(class_weight, ys[0], model.loss)
    w = cw if w is None else (w if cw is None else w * cw)
    return in_memory(model, xs, ys, w, batch_size, shuffle, steps_per_epoch), val


def eval_batches(model, x, y, sample_weight, batch_size, steps=None):
    """Batches for evaluate or validation: arrays, (x, y[, w]) as validation_data, or a dataset."""
    if data.is_dataset(x):
        return dataset(model, x, batch_size, False, steps)
    xs, ys, w = arrays(model, x, y, sample_weight)
    return in_memory(model, xs, ys, w, batch_size, False, steps)


def validation(model, validation_data, batch_size, steps):
    """Batches for fit's validation_data."""
    if data.is_dataset(validation_data):
        return dataset(model, validation_data, batch_size, False, steps)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise LstmkitError("validation_data: expected (x_val, y_val), (x_val, y_val, sample_weight) "
                           f"or a dataset, got {type(validation_data).__name__}")
    vx, vy, *vw = validation_data
    return eval_batches(model, vx, vy, vw[0] if vw else None, batch_size, steps)


def predict_batches(model, x, batch_size, steps=None):
    if data.is_dataset(x):
        return dataset(model, x, batch_size, False, steps, with_targets=False)
    xs = data.as_inputs(x, "x", getattr(model, "input_names", None))
    data.check_lengths(xs, None)
    model._check_inputs(xs)
    xs = data.place(xs, model._device())
    device = model._device()
    make = lambda: ((bx, None, None) for bx, _, _ in data.batches(xs, None, batch_size, False,  # noqa: E731
                                                                  device=device))
    return Batches(make, steps, -(-len(xs[0]) // batch_size))
