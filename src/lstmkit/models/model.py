"""`Model`: compile / fit / evaluate / predict for lstmkit layers or any torch.nn.Module."""
import inspect

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from .. import precision as _precision
from ..errors import LstmkitError
from ..layers.base import call_symbolic, is_symbolic
from . import callbacks as cbks
from . import data, feed, optimizers, registry, saving, training, weights
from .compiled import Compiled
from . import backup
from .progress import Progress
from .summary import summary_text
from .tally import NonFiniteLoss, Tally


class Model(nn.Module):
    """A trainable model: wrap any torch module (`Model(module)`), subclass and define `forward`, or
    use Keras' functional API, `Model(inputs, outputs)` (see `lstmkit.models.functional`).

    Args:
        module: the network; its forward takes the model's inputs (several for multi-input x) and
            returns predictions. None when a subclass defines `forward` itself, or Keras'
            `call(inputs, training=None)` (which gets a list for several inputs).
        name: the model's name in summaries.

    Example:
        >>> import numpy as np, torch
        >>> from lstmkit.models import Model
        >>> model = Model(torch.nn.Linear(3, 1))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.random.rand(64, 3), np.random.rand(64, 1)
        >>> len(model.fit(x, y, epochs=2, verbose=0).history["loss"])
        2
    """
    output_names = None  # one name per output, for models that declare their outputs (functional)

    def __new__(cls, *args, **kwargs):
        if cls is Model and ("inputs" in kwargs or (args and is_symbolic(args[0]))):
            cls = registry.MODELS["Functional"]  # Model(inputs, outputs): Python then runs its __init__
        return super().__new__(cls)

    def __init__(self, module=None, name=None):
        super().__init__()
        if name is not None:
            self.name = name
        if module is not None and not isinstance(module, nn.Module):
            raise LstmkitError(f"module: expected a torch.nn.Module, or Input tensors for "
                               f"Model(inputs, outputs), got {type(module).__name__}")
        self.module = module
        self.optimizer = self.loss = self.compiled = None
        self.metrics, self.stop_training, self._compile_config = [], False, None
        self._input_specs = self._optimizer_spec = None
        self.precision = self._fit_precision = None  # None: the global policy (lstmkit.mixed_precision)

    def __call__(self, *args, training=None, **kwargs):
        """`model(x)` runs in the model's current mode (inference after fit, as in Keras);
        `model(x, training=True|False)` runs that one call in training or inference mode."""
        if args and is_symbolic(args[0]):
            return call_symbolic(self, *args, **kwargs)  # a model used as a layer of another
        if training is None:
            return super().__call__(*args, **kwargs)
        was = self.training
        self.train(bool(training))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.train(was)

    def forward(self, *inputs):
        if self.module is not None:
            return self.module(*inputs)
        if hasattr(self, "call"):  # a Keras-style subclass
            x = inputs[0] if len(inputs) == 1 else list(inputs)
            wants_training = "training" in inspect.signature(self.call).parameters
            return self.call(x, training=self.training) if wants_training else self.call(x)
        raise NotImplementedError("Model: pass a module, or subclass Model and define forward or call")

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, *, precision=None):
        """Choose how to train.

        Args:
            optimizer: 'sgd', 'rmsprop', 'adam', 'adamw', 'adagrad' (Keras' defaults), an
                `lstmkit.models.optimizers.Optimizer`, or a torch optimizer over this model's parameters.
            loss: 'mse', 'mae', 'huber', 'binary_crossentropy', 'categorical_crossentropy',
                'sparse_categorical_crossentropy', a `losses.Loss`, or any callable
                `loss(y_true, y_pred)` (Keras' order; torch's own losses keep theirs); for several outputs
                one for all, a list (one per output) or a dict keyed by output name. None when the
                model overrides `compute_loss`.
            metrics: names from 'accuracy', 'mae', 'mse', 'rmse' (or Metric objects); for several
                outputs a list for all, a list of lists or a dict by output name.
            loss_weights: for several outputs, a list or dict of weights on their losses.
            precision: "fp32" or "bf16" (mixed bfloat16, see `lstmkit.precision`) for fit, evaluate
                and predict; None follows `lstmkit.mixed_precision.set_global_policy` (fp32 by default).
        """
        if loss is None and not self._custom_loss:
            raise LstmkitError("loss: required, e.g. compile(optimizer='adam', loss='mse'), unless "
                               "the model overrides compute_loss")
        names = self.output_names or (
            [f"output_{k}" for k in range(len(loss))] if isinstance(loss, (list, tuple)) else ["output"])
        self.precision = None if precision is None else _precision.check(precision)
        self.compiled = Compiled(loss, loss_weights, metrics, names, custom=self._custom_loss)
        self._optimizer_spec = optimizers.get(optimizer)
        self.optimizer = self._optimizer_spec if isinstance(self._optimizer_spec, torch.optim.Optimizer) else None
        self.loss = next((x for x in self.compiled.losses if x is not None), None)
        self.metrics = [m for ms in self.compiled.metrics for m in ms]
        plain = all(isinstance(v, str) for v in [optimizer, loss, *(metrics or [])]) and loss_weights is None
        self._compile_config = ({"optimizer": optimizer, "loss": loss, "metrics": list(metrics or [])}
                                if plain else None)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The training loss of one batch, as Keras 3's hook: the compiled losses, weighted, plus
        the layers' penalties. Override it for a loss over several tensors (CTC over lengths, a
        padded target); fit and evaluate then log what it returns as "loss".

        Args:
            x: the batch's inputs, one tensor per model input (a tuple).
            y: its targets, one tensor per target (a list).
            y_pred: what the model returned for x.
            sample_weight: (B,) or None.

        Returns:
            A scalar tensor.

        Example:
            >>> class Masked(Model):
            ...     def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
            ...         return ((y_pred - y[0]) ** 2)[y[0] != 0].mean()
        """
        return self.compiled(training.as_list(self, y_pred), y, sample_weight, training.penalty(self))[0]

    @property
    def _custom_loss(self) -> bool:
        return type(self).compute_loss is not Model.compute_loss

    @property
    def losses(self) -> list:
        """The layers' regularization penalties (scalar tensors), as Keras' `model.losses`."""
        found = []
        for m in self.modules():
            fn = getattr(m, "regularization_losses", None) if m is not self else None
            if fn is not None:
                found.extend(fn())
        return found

    # ---- training ----------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, *, precision=None):
        """Train for `epochs` epochs, as Keras' fit.

        Args:
            x: inputs (B, ...) as a numpy array or tensor, a list of them (several inputs) or a dict
                by input name; or a dataset of (x, y) or (x, y, sample_weight) batches (a torch
                Dataset/DataLoader, a generator, `utils.timeseries_dataset_from_array`); y is then None.
            y: targets (B, ...): one array, or a list / dict by output name for several outputs.
            batch_size: samples per gradient step (32).
            epochs: train until this epoch index (starting at `initial_epoch`).
            verbose: 0 silent, 1 ('auto') progress bar, 2 one line per epoch.
            validation_split: fraction of the samples, taken from the end, held out for validation.
            validation_data: (x_val, y_val[, sample_weight]) or a dataset, instead of validation_split.
            shuffle: reshuffle the training samples every epoch.
            callbacks: list of `callbacks.Callback`.
            class_weight: {class id: weight}, weighting each sample's loss by its class.
            sample_weight: (B,) per-sample weights on the loss.
            initial_epoch: epoch to start from (for resuming).
            steps_per_epoch, validation_steps: batches per epoch (the data carries on across epochs).
            validation_batch_size: batch size for validation_data (default batch_size).
            precision: "fp32" or "bf16" for this fit (forward and loss under bfloat16 autocast,
                float32 master weights; see `lstmkit.precision`); None: compile's, else the global policy.

        Returns:
            A `History`; `history.history` maps 'loss', metrics and 'val_*' to per-epoch values.

        Raises:
            NonFiniteLoss: the loss became NaN or inf (the message names the epoch and batch), unless
                a `TerminateOnNaN` callback stops training instead.
        """
        self._require_compiled("fit")
        fit_precision = None if precision is None else _precision.check(precision)
        batch_size, verbose = training.check_fit_args(batch_size, epochs, verbose, initial_epoch)
        feed.check_steps(steps_per_epoch, "steps_per_epoch")
        feed.check_steps(validation_steps, "validation_steps")
        train, val = feed.fit_batches(self, x, y, sample_weight, batch_size, shuffle, validation_split,
                                      class_weight, steps_per_epoch)
        val_size = validation_batch_size or batch_size
        if validation_data is not None:
            val = feed.validation(self, validation_data, val_size, validation_steps)
        elif val is not None:
            val = feed.in_memory(self, *val, val_size, False, validation_steps)
        self._prepare_optimizer()
        history = cbks.History()
        callbacks = [*(callbacks or []), history]  # last: it records what the others add to the logs
        params = {"epochs": epochs, "steps": train.length, "verbose": verbose, "batch_size": batch_size}
        for cb in callbacks:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training, self._fit_precision = False, fit_precision
        for cb in callbacks:
            cb.on_train_begin()
        try:
            initial_epoch, done = backup.resume(callbacks, initial_epoch, train)  # continue a killed run
            training.run_epochs(self, train, val, initial_epoch, epochs, verbose, callbacks, done)
        except NonFiniteLoss as e:
            if not any(isinstance(cb, cbks.TerminateOnNaN) for cb in callbacks):
                e.history = history
                raise
            if verbose:
                print(f"{e}: TerminateOnNaN stops training", flush=True)
        finally:
            for cb in callbacks:
                cb.on_train_end()
            self.eval()  # a direct model(x) after fit is inference (no dropout), as in Keras
            self._fit_precision = None
        self.history = history
        return history

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns its loss (and metrics), as Keras does."""
        self._require_compiled("train_on_batch")
        xs, ys, w = feed.arrays(self, x, y, sample_weight)
        cw = data.class_weights(class_weight, ys[0], self.loss)
        w = cw.to(xs[0].device) if w is None and cw is not None else (w if cw is None else w * cw.to(w.device))
        self._prepare_optimizer()
        self.train()
        tally = Tally(self.compiled.names, self.compiled.results)
        constrained = [m for m in self.modules() if m is not self and hasattr(m, "apply_constraints")]
        training.train_step(self, xs, ys, w, tally, constrained)
        return training.result(tally.logs(None), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training."""
        return self.evaluate(x, y, batch_size=len(data.as_inputs(x, "x", getattr(self, "input_names", None))[0]),
                             verbose=0, sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x):
        """Predictions for one batch, as numpy."""
        return self.predict(x, batch_size=len(data.as_inputs(x)[0]), verbose=0)

    def _prepare_optimizer(self):
        if self.optimizer is None:
            self.optimizer = self._optimizer_spec.build(self.parameters())

    # ---- evaluation and prediction -----------------------------------------------------------

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 return_dict=False):
        """Loss (and metrics) over x, y in inference mode.

        Returns:
            The loss, or [loss, *metrics] when there are metrics or several outputs, or a dict with
            return_dict=True.
        """
        self._require_compiled("evaluate")
        batch_size, verbose = training.check_fit_args(batch_size, 1, verbose, 0)
        feed.check_steps(steps, "steps")
        if data.is_dataset(x) and (y is not None or sample_weight is not None):
            raise LstmkitError("y: leave it out when x is a dataset of (x, y) batches")
        batches = feed.eval_batches(self, x, y, sample_weight, batch_size, steps)
        progress = Progress(None, 2 if verbose else 0)
        logs, steps = training.run_eval(self, batches())
        progress.finish(steps, logs)
        return training.result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """Predictions for x (same forms as fit's x; a dataset may yield x or (x, y)) as numpy: one
        array, or a list (dict) of them for a model with several outputs; verbose=1 prints the time.

        Raises:
            LstmkitError: the model is not built yet, or x does not fit it.
        """
        batch_size, verbose = training.check_fit_args(batch_size, 1, 0 if verbose == "auto" else verbose, 0)
        feed.check_steps(steps, "steps")
        if not self.built and not data.is_dataset(x):
            self._build(data.as_inputs(x, "x", getattr(self, "input_names", None)))
        self.eval()
        outs, progress = [], Progress(None, 2 if verbose else 0)
        with torch.no_grad(), self.autocast():
            for xs, _, _ in feed.predict_batches(self, x, batch_size, steps)():
                outs.append(self(*xs))
        progress.finish(len(outs), {})
        if not outs:
            raise LstmkitError("predict: the data gave no batches")
        if isinstance(outs[0], dict):
            return {k: _numpy(torch.cat([o[k] for o in outs])) for k in outs[0]}
        if isinstance(outs[0], (tuple, list)):
            return [_numpy(torch.cat(o)) for o in zip(*outs)]
        return _numpy(torch.cat(outs))

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

    reset_state = reset_states  # Keras 3's name

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
        """Write the model to `path`: a `.keras` file (Keras 3's format, which Keras loads), or
        otherwise lstmkit's model directory (config.json + model.safetensors); see `load_model`."""
        return saving.save_model(self, path)

    def save_weights(self, path):
        """Write only the weights: `*.weights.h5` in Keras' layout, otherwise one safetensors file."""
        return saving.save_weights(self, path)

    def load_weights(self, path):
        """Load weights written by `save_weights` (or by Keras, for `*.weights.h5`) into this model."""
        saving.load_weights(self, path)

    def autocast(self):
        """The context fit's forward passes, evaluate and predict run in: bfloat16 autocast when this
        fit's, compile's or the global precision is "bf16" (`lstmkit.precision`), else nothing."""
        chosen = getattr(self, "_fit_precision", None) or getattr(self, "precision", None)
        return _precision.autocast(chosen or _precision.global_policy(), self._device())

    def _device(self):
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def _require_compiled(self, what):
        if self.compiled is None:
            raise LstmkitError(f"{what}: call compile(optimizer, loss) first")


def _numpy(t):
    """numpy has no bfloat16: predictions made under bf16 come back as float32 arrays."""
    return (t.float() if t.dtype == torch.bfloat16 else t).cpu().numpy()


registry.register(Model)
