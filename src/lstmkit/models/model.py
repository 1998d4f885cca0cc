"""`Model`: compile / fit / evaluate / predict for lstmkit layers or any torch.nn.Module."""
import torch
from torch import nn
from torch.nn.parameter import is_lazy

from ..errors import LstmkitError
from ..layers.base import is_symbolic
from . import callbacks as cbks
from . import data, losses, metrics as metrics_, optimizers
from . import backup, weights
from .progress import Progress
from .summary import summary_text
from .tally import NonFiniteLoss, Tally


class Model(nn.Module):
    """A trainable model: wrap any torch module (`Model(module)`), subclass and define `forward`, or
    use Keras' functional API, `Model(inputs, outputs)` (see `lstmkit.models.functional`).

    Args:
        module: the network; its forward takes the model's inputs (several for multi-input x) and
            returns predictions. None when a subclass defines `forward` itself.

    Example:
        >>> import numpy as np, torch
        >>> from lstmkit.models import Model
        >>> model = Model(torch.nn.Linear(3, 1))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.random.rand(64, 3), np.random.rand(64, 1)
        >>> len(model.fit(x, y, epochs=2, verbose=0).history["loss"])
        2
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and ("inputs" in kwargs or (args and is_symbolic(args[0]))):
            from .functional import Functional

            cls = Functional  # Model(inputs, outputs): Python then runs Functional.__init__
        return super().__new__(cls)

    def __init__(self, module=None):
        super().__init__()
        if module is not None and not isinstance(module, nn.Module):
            raise LstmkitError(f"module: expected a torch.nn.Module, or Input tensors for "
                               f"Model(inputs, outputs), got {type(module).__name__}")
        self.module = module
        self.optimizer = self.loss = None
        self.metrics, self.stop_training, self._compile_config = [], False, None
        self._input_specs = self._optimizer_spec = None

    def forward(self, *inputs):
        if self.module is None:
            raise NotImplementedError("Model: pass a module, or subclass Model and define forward")
        return self.module(*inputs)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose how to train.

        Args:
            optimizer: 'sgd', 'rmsprop', 'adam', 'adamw', 'adagrad' (Keras' defaults), an
                `lstmkit.models.optimizers.Optimizer`, or a torch optimizer over this model's parameters.
            loss: 'mse', 'mae', 'huber', 'binary_crossentropy', 'categorical_crossentropy',
                'sparse_categorical_crossentropy', a `losses.Loss`, or any callable
                `loss(y_pred, y_true) -> scalar tensor`.
            metrics: names from 'accuracy', 'mae', 'mse', 'rmse' (or Metric objects).
        """
        if loss is None:
            raise LstmkitError(f"loss: required; known names: {', '.join(losses.LOSSES)}")
        self._optimizer_spec = optimizers.get(optimizer)
        self.optimizer = self._optimizer_spec if isinstance(self._optimizer_spec, torch.optim.Optimizer) else None
        self.loss = losses.get(loss)
        self.metrics = [metrics_.get(m, self.loss) for m in (metrics or [])]
        names = [optimizer, loss, *(metrics or [])]
        self._compile_config = ({"optimizer": optimizer, "loss": loss, "metrics": list(metrics or [])}
                                if all(isinstance(v, str) for v in names) else None)

    # ---- training ----------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, validation_split=0.0,
            validation_data=None, shuffle=True, callbacks=None, class_weight=None, initial_epoch=0):
        """Train for `epochs` epochs.

        Args:
            x: inputs (B, ...) as a numpy array or tensor, a tuple/list of them for a multi-input model,
                or a torch Dataset/DataLoader of (x, y) pairs (then y is None).
            y: targets (B, ...).
            batch_size: samples per gradient step (32).
            epochs: train until this epoch index (starting at `initial_epoch`).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            validation_split: fraction of the samples, taken from the end, held out for validation.
            validation_data: (x_val, y_val), used instead of validation_split.
            shuffle: reshuffle the training samples every epoch.
            callbacks: list of `callbacks.Callback`.
            class_weight: {class id: weight}, weighting each sample's loss by its class.
            initial_epoch: epoch to start from (for resuming).

        Returns:
            A `History`; `history.history` maps 'loss', metrics and 'val_*' to per-epoch values.

        Raises:
            NonFiniteLoss: the loss became NaN or inf (the message names the epoch and batch).
        """
        self._require_compiled("fit")
        if data.is_dataset(x) and y is not None:
            raise LstmkitError("y: leave it out when x is a Dataset/DataLoader of (x, y) pairs")
        train, val, n_train = self._fit_data(x, y, batch_size, shuffle, validation_split,
                                             validation_data, class_weight)
        history = cbks.History()
        callbacks = [*(callbacks or []), history]  # last: it records what the others add to the logs
        params = {"epochs": epochs, "steps": n_train, "verbose": verbose, "batch_size": batch_size}
        for cb in callbacks:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        try:
            initial_epoch = backup.resume(callbacks, initial_epoch)  # continue a run that was killed
            self._epochs(train, val, initial_epoch, epochs, verbose, callbacks, n_train)
        except NonFiniteLoss as e:
            e.history = history
            raise
        finally:
            for cb in callbacks:
                cb.on_train_end()
        self.history = history
        return history

    def _epochs(self, train, val, initial_epoch, epochs, verbose, callbacks, n_train):
        batch_hooks = cbks.uses_batch_hooks(callbacks)
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            progress = Progress(n_train, verbose)
            logs = self._train_epoch(train(), epoch, progress, callbacks if batch_hooks else None)
            if val is not None:
                logs.update({f"val_{k}": v for k, v in self._run_eval(val())[0].items()})
            progress.finish(n_train, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break

    def _train_epoch(self, batches, epoch, progress, callbacks):
        """One pass over the batches; the loss stays on the device until a redraw or the end."""
        self.train()
        tally, step, optimizer, loss_fn = Tally(self.metrics), 0, self.optimizer, self.loss
        for step, (xs, y, w) in enumerate(batches):
            if callbacks:
                for cb in callbacks:
                    cb.on_train_batch_begin(step)
            pred = self(*xs)
            loss = loss_fn(pred, y) if w is None else loss_fn(pred, y, w)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            tally.add(loss, pred, y)
            if callbacks or progress.due():
                logs = tally.logs(epoch)
                progress.update(step + 1, logs)
                for cb in callbacks or ():
                    cb.on_train_batch_end(step, logs)
        return tally.logs(epoch)

    def _fit_data(self, x, y, batch_size, shuffle, validation_split, validation_data, class_weight):
        """-> (train batches factory, validation batches factory or None, batches per epoch)."""
        data.check_batch_size(batch_size)
        if data.is_dataset(x):
            if validation_split:
                raise LstmkitError("validation_split: not available for a Dataset/DataLoader; "
                                   "pass validation_data")
            if class_weight:
                raise LstmkitError("class_weight: not available for a Dataset/DataLoader")
            loader = data.as_loader(x, batch_size, shuffle)
            self._build_from_loader(loader)
            val = self._eval_data(validation_data, batch_size) if validation_data is not None else None
            self._prepare_optimizer()
            steps = len(loader) if hasattr(loader, "__len__") else None
            return lambda: data.loader_batches(loader, self._device()), val, steps
        xs, y = self._arrays(x, y)
        if validation_data is not None:
            val = self._eval_data(validation_data, batch_size)
        elif validation_split:
            (xs, y), (vx, vy) = data.split_last(xs, y, validation_split)
            vx, vy, _ = self._placed(vx, vy, None)
            val = lambda: data.batches(vx, vy, batch_size, False, device=self._device())
        else:
            val = None
        sample_weights = data.class_weights(class_weight, y, self.loss)
        self._prepare_optimizer()
        xs, y, sample_weights = self._placed(xs, y, sample_weights)
        steps = -(-len(y) // batch_size)
        return lambda: data.batches(xs, y, batch_size, shuffle, sample_weights, self._device()), val, steps

    def _arrays(self, x, y, name="x"):
        """Validated tensors for in-memory x and y; builds the model from x if needed."""
        if y is None:
            raise LstmkitError(f"y: required with array inputs (got x of type {type(x).__name__})")
        xs, y = data.as_inputs(x, name), data.as_tensor(y, "y" if name == "x" else f"{name}_y")
        data.check_lengths(xs, y, name, "y")
        self._build(xs)
        self._check_inputs(xs)
        return xs, y

    def _placed(self, xs, y, sample_weights):
        device = self._device()
        placed = data.place((*xs, y, sample_weights), device)
        return placed[:len(xs)], placed[len(xs)], placed[len(xs) + 1]

    def _eval_data(self, validation_data, batch_size):
        if data.is_dataset(validation_data):
            loader = data.as_loader(validation_data, batch_size, False)
            return lambda: data.loader_batches(loader, self._device())
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise LstmkitError("validation_data: expected (x_val, y_val)")
        vx, vy = self._arrays(*validation_data, name="validation_data")
        vx, vy, _ = self._placed(vx, vy, None)
        return lambda: data.batches(vx, vy, batch_size, False, device=self._device())

    def _prepare_optimizer(self):
        if self.optimizer is None:
            self.optimizer = self._optimizer_spec.build(self.parameters())

    # ---- evaluation and prediction -----------------------------------------------------------

    def evaluate(self, x=None, y=None, batch_size=32, verbose=1, return_dict=False):
        """Loss (and metrics) over x, y in inference mode.

        Returns:
            The loss, or [loss, *metrics] when metrics were compiled, or a dict with return_dict=True.
        """
        self._require_compiled("evaluate")
        data.check_batch_size(batch_size)
        if data.is_dataset(x):
            batches = data.loader_batches(data.as_loader(x, batch_size, False), self._device())
        else:
            xs, y = self._arrays(x, y)
            xs, y, _ = self._placed(xs, y, None)
            batches = data.batches(xs, y, batch_size, False, device=self._device())
        progress = Progress(None, 2 if verbose else 0)
        logs, steps = self._run_eval(batches)
        progress.finish(steps, logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _run_eval(self, batches):
        self.eval()
        tally = Tally(self.metrics)
        with torch.no_grad():
            for xs, y, _ in batches:
                pred = self(*xs)
                tally.add(self.loss(pred, y), pred, y)
        return tally.logs(None), len(tally.sizes)

    def predict(self, x, batch_size=32, verbose=0):
        """Predictions for x (same forms as fit's x; a Dataset may yield x or (x, y)) as numpy;
        verbose=1 prints the time taken.

        Raises:
            LstmkitError: the model is not built yet, or x does not fit it.
        """
        data.check_batch_size(batch_size)
        if not self.built:
            raise LstmkitError("predict: the model is not built yet: give the first layer "
                               "input_shape=..., or call fit() first")
        self.eval()
        device, outs, progress = self._device(), [], Progress(None, 2 if verbose else 0)
        with torch.no_grad():
            for xs in self._predict_batches(x, batch_size, device):
                outs.append(self(*xs))
        progress.finish(len(outs), {})
        if isinstance(outs[0], (tuple, list)):
            return tuple(torch.cat(o).cpu().numpy() for o in zip(*outs))
        return torch.cat(outs).cpu().numpy()

    def _predict_batches(self, x, batch_size, device):
        if data.is_dataset(x):
            for item in data.as_loader(x, batch_size, False):
                item = item[0] if isinstance(item, (tuple, list)) and len(item) == 2 else item
                xs = tuple(item) if isinstance(item, (tuple, list)) else (item,)
                yield tuple(data.as_tensor(t, "x").to(device) for t in xs)
            return
        xs = data.as_inputs(x)
        data.check_lengths(xs, None)
        self._check_inputs(xs)
        xs = data.place(xs, device)
        for bx, _, _ in data.batches(xs, None, batch_size, False, device=device):
            yield bx

    # ---- building and state --------------------------------------------------------------------

    @property
    def built(self) -> bool:
        """Whether every lazily built layer (lstmkit's, or torch's Lazy* modules) has its weights."""
        return (all(getattr(m, "built", True) for m in self.modules() if m is not self)
                and not any(is_lazy(p) for p in self.parameters()))

    def _build(self, xs):
        """Create lazily built weights with a dry forward of one sample (no state kept)."""
        if self.built:
            return
        # saved with the model, so load_model can build the same weights before loading them
        self._input_specs = [[list(t.shape[1:]), str(t.dtype).removeprefix("torch.")] for t in xs]
        was_training = self.training
        self.eval()
        with torch.no_grad():
            self(*(t[:1].to(self._device()) for t in xs))
        self.reset_states()
        self.train(was_training)

    def _build_from_loader(self, loader):
        if not self.built:
            xs, _, _ = next(iter(data.loader_batches(loader, self._device())))
            self._build(xs)

    def _check_inputs(self, xs):
        """Hook: subclasses check x against the built input shape (Sequential does)."""

    def _unique_name(self, base, taken=()):
        """`base`, or `base_1`, `base_2`, ... : the first name that neither a child module nor
        `taken` has yet (Keras' naming)."""
        taken = {name for name, _ in self.named_children()} | set(taken)
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        return name

    def reset_states(self):
        """Zero the carried state of every stateful layer."""
        for m in self.modules():
            if m is not self and hasattr(m, "reset_states"):
                m.reset_states()

    # ---- weights, summary, saving -------------------------------------------------------------

    def get_weights(self) -> list:
        """Every weight as a numpy array: lstmkit layers in Keras' order and layout, other modules'
        parameters and buffers as torch holds them."""
        return weights.get_weights(self)

    def set_weights(self, arrays):
        """Set every weight from arrays in `get_weights`' order and layout."""
        weights.set_weights(self, arrays)

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def summary_rows(self):
        """(layer (type), output shape or None, parameter count) per top-level part."""
        parts = self.module.named_children() if self.module is not None else self.named_children()
        return [(f"{n} ({type(m).__name__})", None, sum(p.numel() for p in m.parameters()))
                for n, m in parts]

    def summary(self, print_fn=print) -> str:
        """Print (with `print_fn`) and return the layers, their output shapes and parameter counts."""
        text = summary_text(getattr(self, "name", type(self).__name__.lower()), self.summary_rows(),
                            self.parameters())
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict:
        """The constructor arguments, for save(); subclasses that want save() define it."""
        raise LstmkitError(f"save: {type(self).__name__} cannot describe its architecture; use "
                           "Sequential, or define get_config() and from_config() in your Model subclass")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def save(self, path):
        """Write config.json + model.safetensors to the directory `path` (see `load_model`)."""
        from .saving import save_model
        return save_model(self, path)

    def save_weights(self, path):
        """Write only the weights to one safetensors file (works for any module; see `load_weights`)."""
        from .saving import save_weights
        return save_weights(self, path)

    def load_weights(self, path):
        """Load weights written by `save_weights` into this (built) model."""
        from .saving import load_weights
        load_weights(self, path)

    def _device(self):
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def _require_compiled(self, what):
        if self.loss is None:
            raise LstmkitError(f"{what}: call compile(optimizer, loss) first")


def check_input_shape(x, want, name: str, source: str) -> None:
    """x must be (batch, *want), None in `want` matching any size; else one line naming `source`."""
    if x.dim() - 1 != len(want) or any(w is not None and w != g for w, g in zip(want, x.shape[1:])):
        shown = ", ".join(str(w) for w in want)
        raise LstmkitError(f"{name}: expected shape (batch, {shown}) ({source}), got {tuple(x.shape)}")
