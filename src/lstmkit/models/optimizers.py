"""Optimizers by Keras name, with Keras' default learning rates and constants.

A compiled model may not have its weights yet (layers build from the first batch), so an optimizer
is a recipe that `build(params)` turns into a torch optimizer once the weights exist.
"""
import torch

from ..errors import LstmkitError

EPS = 1e-7  # Keras' default epsilon


class Optimizer:
    """A torch optimizer class plus keyword arguments, built once the parameters exist.

    Example:
        >>> from lstmkit.models.optimizers import Adam
        >>> opt = Adam(learning_rate=1e-3)
    """
    torch_class = None
    defaults: dict = {}

    def __init__(self, learning_rate=None, **options):
        self.options = {**self.defaults, **options}
        if learning_rate is not None:
            self.options["lr"] = float(learning_rate)

    def build(self, params) -> torch.optim.Optimizer:
        return self.torch_class(params, **self.options)


class SGD(Optimizer):
    torch_class, defaults = torch.optim.SGD, {"lr": 0.01, "momentum": 0.0}


class RMSprop(Optimizer):
    torch_class, defaults = torch.optim.RMSprop, {"lr": 0.001, "alpha": 0.9, "eps": EPS}


class Adam(Optimizer):
    torch_class, defaults = torch.optim.Adam, {"lr": 0.001, "eps": EPS}


class AdamW(Optimizer):
    torch_class, defaults = torch.optim.AdamW, {"lr": 0.001, "eps": EPS, "weight_decay": 0.004}


class Adagrad(Optimizer):
    torch_class = torch.optim.Adagrad
    defaults = {"lr": 0.001, "eps": EPS, "initial_accumulator_value": 0.1}


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad}


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
                       f"lstmkit.models.optimizers.Optimizer or a torch.optim.Optimizer, "
                       f"got {type(optimizer).__name__}")
