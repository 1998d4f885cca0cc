"""Keras 3 optimizers: Keras' classes, argument names and defaults, run by torch's optimizers.

A compiled model may not have its weights yet (layers build from the first batch), so an optimizer
is a recipe that `build(params)` turns into a torch optimizer once the weights exist. Before each
torch step a hook does what Keras does around its update, in Keras' order:
    1. clip: `clipvalue` (each gradient entry), `clipnorm` (each weight's gradient to that norm),
       `global_clipnorm` (all gradients together);
    2. learning rate: lr = schedule(iterations) when `learning_rate` is a schedule (iterations counts
       the updates done, 0 first; kept in the optimizer's state so it survives save/load); a schedule
       with a `momentum(iterations)` method (`schedules.OneCycle`) sets beta_1 (or momentum) too;
    3. decoupled weight decay: w <- w - lr * weight_decay * w.
The updates are torch's; they equal Keras' formulas with Keras' epsilon except where the epsilon
sits (torch's Adam adds eps to sqrt(v_hat), Keras to sqrt(v) before the bias correction; the
difference is of order eps = 1e-7).

Example:
    >>> from lstmkit.optimizers import Adam, schedules
    >>> opt = Adam(learning_rate=schedules.ExponentialDecay(1e-3, 100, 0.9), clipnorm=1.0)
"""
import torch

from ..errors import LstmkitError
from .schedules import LearningRateSchedule

EPS = 1e-7  # Keras' default epsilon


class Optimizer:
    """A Keras optimizer: a torch optimizer class, its arguments, and Keras' clipping, schedule and
    weight decay (see the module docstring).

    Args:
        learning_rate: a float or a `schedules.LearningRateSchedule` (or any callable step -> lr).
        weight_decay: decoupled weight decay (None: none, except AdamW's default 0.004).
        clipnorm, clipvalue, global_clipnorm: gradient clipping (at most one of the norms).
        name: the optimizer's name.
    """
    torch_class = None
    default_lr = 0.001

    def __init__(self, learning_rate=None, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, name=None):
        if use_ema:
            raise LstmkitError("use_ema: lstmkit's optimizers keep no moving average of the weights")
        if clipnorm is not None and global_clipnorm is not None:
            raise LstmkitError("clipnorm, global_clipnorm: give at most one of them")
        for arg, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                       ("weight_decay", weight_decay)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise LstmkitError(f"{arg}: expected None or a non-negative number, got {v!r}")
        lr = self.default_lr if learning_rate is None else learning_rate
        if not callable(lr) and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0):
            raise LstmkitError(f"learning_rate: expected a non-negative float or a schedule, got {lr!r}")
        self.learning_rate = lr
        self.weight_decay, self.name = weight_decay, name or type(self).__name__.lower()
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.options = {}  # the torch class' own arguments, set by each subclass

    def lr_at(self, step: int) -> float:
        """The learning rate for update number `step` (0 first)."""
        return float(self.learning_rate(step)) if callable(self.learning_rate) else float(self.learning_rate)

    def build(self, params) -> torch.optim.Optimizer:
        """The torch optimizer over `params`, with this recipe's hook registered."""
        opt = _with_keras_attributes(self.torch_class)(params, lr=self.lr_at(0), **self.options)
        self._built_lr = self.learning_rate
        for group in opt.param_groups:
            group.setdefault("iterations", 0)
        opt.register_step_pre_hook(self._before_step)
        opt.register_step_post_hook(_count_step)
        return opt

    @torch.no_grad()
    def _before_step(self, opt, args, kwargs):
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if self.clipvalue is not None:
            for p in params:
                p.grad.clamp_(-self.clipvalue, self.clipvalue)
        if self.clipnorm is not None:
            for p in params:
                torch.nn.utils.clip_grad_norm_([p], self.clipnorm)
        if self.global_clipnorm is not None and params:
            torch.nn.utils.clip_grad_norm_(params, self.global_clipnorm)
        changed = self.learning_rate is not getattr(self, "_built_lr", self.learning_rate)
        self._built_lr = self.learning_rate  # a Keras program set `optimizer.learning_rate = ...`
        momentum = getattr(self.learning_rate, "momentum", None)  # a schedule that cycles it too
        for group in opt.param_groups:
            if callable(self.learning_rate) or changed:
                group["lr"] = self.lr_at(group["iterations"])
            m = momentum(group["iterations"]) if momentum is not None else None
            if m is not None:
                if "betas" in group:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m
            if self.weight_decay:
                for p in group["params"]:
                    if p.grad is not None:
                        p.mul_(1 - group["lr"] * self.weight_decay)

    def get_config(self) -> dict:
        lr = self.learning_rate
        lr = {"class_name": type(lr).__name__, "config": lr.get_config()} \
            if isinstance(lr, LearningRateSchedule) else lr
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}


_KERAS_VIEWS = {}


def _with_keras_attributes(torch_class):
    """`torch_class` with Keras' `learning_rate` (read and set, as callbacks in Keras programs do)
    and `iterations` (the updates made), so `model.optimizer.learning_rate` works after compile."""
    if torch_class not in _KERAS_VIEWS:
        def get_lr(opt):
            return opt.param_groups[0]["lr"]

        def set_lr(opt, value):
            for group in opt.param_groups:
                group["lr"] = float(value)

        _KERAS_VIEWS[torch_class] = type(torch_class.__name__, (torch_class,), {
            "learning_rate": property(get_lr, set_lr), "lr": property(get_lr, set_lr),
            "iterations": property(lambda opt: opt.param_groups[0].get("iterations", 0)),
            "__module__": torch_class.__module__})
    return _KERAS_VIEWS[torch_class]


def _count_step(opt, args, kwargs):
    for group in opt.param_groups:
        group["iterations"] = group.get("iterations", 0) + 1


class SGD(Optimizer):
    """Keras' SGD: lr 0.01, momentum 0, nesterov False."""
    torch_class, default_lr = torch.optim.SGD, 0.01

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(momentum=momentum, nesterov=nesterov)


class RMSprop(Optimizer):
    """Keras' RMSprop: lr 0.001, rho 0.9, momentum 0, epsilon 1e-7, centered False."""
    torch_class = torch.optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=EPS, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(alpha=rho, momentum=momentum, eps=epsilon, centered=centered)


class Adam(Optimizer):
    """Keras' Adam: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad False."""
    torch_class = torch.optim.Adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(betas=(beta_1, beta_2), eps=epsilon, amsgrad=amsgrad)


class AdamW(Adam):
    """Keras' AdamW: Adam with decoupled weight_decay 0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=EPS,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    """Keras' Adagrad: lr 0.001, initial_accumulator_value 0.1, epsilon 1e-7."""
    torch_class = torch.optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=EPS, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(initial_accumulator_value=initial_accumulator_value, eps=epsilon)


class Adadelta(Optimizer):
    """Keras' Adadelta: lr 0.001, rho 0.95, epsilon 1e-7."""
    torch_class = torch.optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=EPS, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(rho=rho, eps=epsilon)


class Adamax(Optimizer):
    """Keras' Adamax: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7."""
    torch_class = torch.optim.Adamax

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(betas=(beta_1, beta_2), eps=epsilon)


class Nadam(Optimizer):
    """Keras' Nadam: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7. Keras 3 schedules the momentum
    as u_t = beta_1 (1 - 0.5 * 0.96^t): torch's NAdam with momentum_decay=1."""
    torch_class = torch.optim.NAdam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.options = dict(betas=(beta_1, beta_2), eps=epsilon, momentum_decay=1.0)


OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax,
                                                    Nadam)}


def get(optimizer):
    """A recipe from a Keras name or an Optimizer, or a torch optimizer passed through as is.

    Raises:
        LstmkitError: an unknown name (the message lists the known ones) or an unusable object.
    """
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise LstmkitError(f"optimizer: unknown name {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        return OPTIMIZERS[key]()
    if isinstance(optimizer, (Optimizer, torch.optim.Optimizer)):
        return optimizer
    raise LstmkitError(f"optimizer: expected a name ({', '.join(OPTIMIZERS)}), an "
                       f"lstmkit.optimizers.Optimizer or a torch.optim.Optimizer, "
                       f"got {type(optimizer).__name__}")
