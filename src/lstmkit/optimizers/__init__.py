"""Keras 3's `keras.optimizers` namespace: the optimizer classes and `schedules`.

Example:
    >>> import lstmkit as keras
    >>> opt = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(1e-3, 1000))
"""
from ..models.optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, Optimizer, RMSprop,
                                 get)
from . import schedules

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam",
           "schedules", "get"]
