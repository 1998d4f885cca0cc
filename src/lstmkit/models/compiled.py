"""What `compile` chose, per model output: the loss, its weight and the metrics; computes the
training loss and the values fit logs.

As in Keras, one loss (or metric list) serves every output, or a list gives one per output, or a
dict keys them by output name. The logs are `loss` (the weighted sum, with any regularization
penalty) and the metrics; with several outputs also `<output>_loss` and `<output>_<metric>`.
"""
import torch

from ..errors import DataError, LstmkitError
from . import losses, metrics as metrics_


class Compiled:
    """Losses, loss weights and metrics for each output.

    Args:
        loss: a loss (name, Loss, callable), a list of them (one per output) or a dict by output name.
        loss_weights: None (all 1), a list or a dict of floats.
        metrics: a list of metrics (every output), a list of lists, or a dict by output name.
        output_names: the model's output names (one entry for a one-output model).
        custom: the model computes its own loss (`Model.compute_loss`): `loss` may be None.
    """

    def __init__(self, loss, loss_weights, metrics, output_names, custom=False):
        self.output_names = list(output_names)
        n = len(self.output_names)
        self.losses = [losses.get(x) if x is not None else None
                       for x in _per_output(loss, self.output_names, "loss")]
        if all(x is None for x in self.losses) and not custom:
            raise LstmkitError(f"loss: required; known names: {', '.join(losses.LOSSES)}")
        weights = _per_output(1.0 if loss_weights is None else loss_weights, self.output_names,
                              "loss_weights")
        self.weights = [float(w) for w in weights]
        if metrics is None:
            metrics = []
        if isinstance(metrics, (list, tuple)) and n > 1 and len(metrics) == n and \
                all(isinstance(m, (list, tuple)) or m is None for m in metrics):
            per = [list(m or []) for m in metrics]
        elif isinstance(metrics, dict):
            per = [_as_list(m) for m in _per_output(metrics, self.output_names, "metrics", [])]
        else:
            per = [list(metrics)] * n
        self.metrics = [[metrics_.get(m, self.losses[k]) for m in ms] for k, ms in enumerate(per)]
        prefix = (lambda k: f"{self.output_names[k]}_") if n > 1 else (lambda k: "")
        self.names = ["loss"] + ([f"{o}_loss" for o, x in zip(self.output_names, self.losses)
                                  if x is not None] if n > 1 and not custom else [])
        self.names += [prefix(k) + m.name for k, ms in enumerate(self.metrics) for m in ms]
        self.results = [None] * (len(self.names) - sum(map(len, self.metrics)))
        self.results += [m.result for ms in self.metrics for m in ms]

    def __call__(self, preds, ys, sample_weight, penalty=None):
        """-> (the training loss, [loss, per-output losses..., metrics...] as detached tensors)."""
        if len(preds) != len(self.losses) or len(ys) != len(self.losses):
            raise LstmkitError(f"compile: the model returned {len(preds)} output(s) and got {len(ys)} "
                               f"target array(s), but compile set up {len(self.losses)} (give one loss "
                               "per output as a list or dict)")
        total, parts = 0.0, []
        for loss, w, p, y in zip(self.losses, self.weights, preds, ys):
            if loss is None:
                continue
            self.check_shape(loss, p, y)
            value = loss(p, y) if sample_weight is None else loss(p, y, sample_weight)
            parts.append(value.detach())
            total = total + w * value
        if penalty is not None:
            total = total + penalty
        return total, [total.detach(), *(parts if len(self.losses) > 1 else []), *self.metric_values(preds, ys)]

    def metric_values(self, preds, ys) -> list:
        """Each metric's value on the batch, as detached tensors."""
        with torch.no_grad():
            return [m.batch(p, y) for ms, p, y in zip(self.metrics, preds, ys) for m in ms]

    def check_shape(self, loss, pred, y):
        """A target must have the output's shape, or lack only its last axis of 1 (or, for sparse
        ids, its class axis): anything else would broadcast into a silently wrong loss."""
        if not isinstance(loss, losses.Loss):
            return  # a custom loss decides for itself
        p, t = tuple(pred.shape), tuple(y.shape)
        if t == p or (p[-1:] == (1,) and t == p[:-1]):
            return
        if isinstance(loss, losses.SparseCategoricalCrossentropy) and t in (p[:-1], p[:-1] + (1,)):
            return
        shown = lambda shape: "(batch" + "".join(f", {d}" for d in shape[1:]) + ")"  # noqa: E731
        raise DataError(f"y: expected targets of shape {shown(p)} to match the model's output for "
                        f"{loss.name}, got {shown(t)}")

    def check_values(self, ys):
        """Targets a loss cannot take: binary cross-entropy of values outside [0, 1]."""
        for loss, y in zip(self.losses, ys):
            if isinstance(loss, losses.BinaryCrossentropy) and len(y) and \
                    (float(y.min()) < 0 or float(y.max()) > 1):
                raise DataError(f"y: binary_crossentropy needs targets in [0, 1], got values from "
                                f"{float(y.min()):g} to {float(y.max()):g}")


def _as_list(m):
    return list(m) if isinstance(m, (list, tuple)) else ([] if m is None else [m])


def _per_output(value, names, arg, missing=None):
    """One entry per output from a single value, a list (in output order) or a dict by name."""
    if isinstance(value, dict):
        unknown = set(value) - set(names)
        if unknown:
            raise LstmkitError(f"{arg}: unknown output name(s) {sorted(unknown)}; the outputs are "
                               f"{names}")
        return [value.get(n, missing) for n in names]
    if isinstance(value, (list, tuple)) and arg != "metrics":
        if len(value) != len(names):
            raise LstmkitError(f"{arg}: expected one entry per output ({len(names)}: "
                               f"{', '.join(names)}), got {len(value)}")
        return list(value)
    return [value] * len(names)
