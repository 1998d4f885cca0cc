"""fit's training loop and evaluate's pass, as functions of the model: epochs with callbacks and
progress, one gradient step (with the layers' regularization penalties and constraints), and the
argument checks fit, evaluate and predict share."""
import torch

from ..errors import LstmkitError
from . import backup
from . import callbacks as cbks
from . import data
from .progress import Progress
from .tally import Tally


def run_epochs(model, train, val, initial_epoch, epochs, verbose, callbacks, done=0):
    """fit's loop over epochs: callbacks, progress, validation, stopping. `done`: batches of the
    first epoch trained before the backup this run resumes from (they are passed over)."""
    batch_hooks = cbks.uses_batch_hooks(callbacks)
    for epoch in range(initial_epoch, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        train.set_epoch(epoch)
        progress = Progress(train.length, verbose)
        if done and train.steps is not None:  # the resume put the carried-on iterator in place
            batches = train(done)
        else:
            batches = backup.skip_trained(train(), done, callbacks) if done else train()
        logs, steps = train_epoch(model, batches, epoch, progress, callbacks if batch_hooks else None, done)
        if done and steps == done:  # the backup came after the epoch's last batch: its logs are the epoch's
            logs = backup.trained_logs(callbacks) or logs
        done = 0
        if train.ran_out and not steps:
            break
        if val is not None:
            logs.update({f"val_{k}": v for k, v in run_eval(model, val())[0].items()})
        progress.finish(steps, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training or train.ran_out:
            break


def train_epoch(model, batches, epoch, progress, callbacks, start=0):
    """One pass over the batches (numbered from `start`); the loss stays on the device until a
    redraw or the end."""
    model.train()
    tally, step = Tally(model.compiled.names, model.compiled.results), start
    constrained = [m for m in model.modules() if m is not model and hasattr(m, "apply_constraints")]
    for step, (xs, ys, w) in enumerate(batches, start + 1):
        if callbacks:
            for cb in callbacks:
                cb.on_train_batch_begin(step - 1)
        train_step(model, xs, ys, w, tally, constrained)
        due = progress.due()  # a live bar only: batch hooks alone must not draw one
        if callbacks or due:
            logs = tally.logs(epoch)
            if due:
                progress.update(step, logs)
            for cb in callbacks or ():
                cb.on_train_batch_end(step - 1, logs)
        if model.stop_training:
            break
    return (tally.logs(epoch) if step > start else {}), step


def train_step(model, xs, ys, w, tally, constrained):
    """One gradient step; the layers' penalties join the loss, their constraints run after it."""
    with model.autocast():  # bf16: forward and loss in bfloat16 autocast; backward outside it
        loss, values = batch_loss(model, xs, ys, w, model(*xs), penalty(model))
    model.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    model.optimizer.step()
    for m in constrained:
        m.apply_constraints()
    tally.add(values, len(xs[0]))


def batch_loss(model, xs, ys, w, out, extra):
    """-> (the loss, the values to log: loss first): the model's own `compute_loss` when it
    overrides it, else the compiled losses plus `extra` (the layers' penalties) and metrics."""
    preds = [float32(p) for p in as_list(model, out)]  # bf16 autocast: the loss in float32
    if not model._custom_loss:
        return model.compiled(preds, ys, w, extra)
    loss = model.compute_loss(xs, ys, out, w).float()
    return loss, [loss.detach(), *model.compiled.metric_values(preds, ys)]


def penalty(model):
    """The sum of the layers' regularization penalties, or None."""
    found = model.losses
    return torch.stack(found).sum() if found else None


def as_list(model, out):
    """The model's output(s) as a list, in output order."""
    if isinstance(out, dict):
        return [out[n] for n in model.compiled.output_names]
    return list(out) if isinstance(out, (list, tuple)) else [out]


def float32(t):
    """A bfloat16 (autocast) prediction as float32, so losses and metrics are computed in float32."""
    return t.float() if isinstance(t, torch.Tensor) and t.dtype == torch.bfloat16 else t


def run_eval(model, batches):
    """(logs, batches) of the loss and metrics over `batches`, in inference mode."""
    model.eval()
    tally = Tally(model.compiled.names, model.compiled.results)
    with torch.no_grad(), model.autocast():
        extra = penalty(model)
        for xs, ys, w in batches:
            tally.add(batch_loss(model, xs, ys, w, model(*xs), extra)[1], len(xs[0]))
    if not tally.values:
        raise LstmkitError("evaluate: the data gave no batches")
    return tally.logs(None), len(tally.sizes)


def check_fit_args(batch_size, epochs, verbose, initial_epoch):
    """-> (batch_size, verbose) with Keras' defaults filled in; one clear line for a bad value."""
    batch_size = 32 if batch_size is None else batch_size
    data.check_batch_size(batch_size)
    for name, value, low in (("epochs", epochs, 1), ("initial_epoch", initial_epoch, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise LstmkitError(f"{name}: expected an int >= {low}, got {value!r}")
    verbose = 1 if verbose == "auto" else verbose
    if verbose not in (0, 1, 2):
        raise LstmkitError(f"verbose: expected 0, 1, 2 or 'auto', got {verbose!r}")
    return batch_size, verbose


def result(logs, return_dict):
    """evaluate's return: the dict, or the loss alone, or [loss, *the others] as Keras returns them."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
