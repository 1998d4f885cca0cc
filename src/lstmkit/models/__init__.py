"""Keras-style models: `Model` (compile / fit / evaluate / predict for any torch module, or the
functional API's `Model(inputs, outputs)`), `Sequential`, callbacks, losses, metrics and optimizers
by Keras name."""
from . import callbacks, losses, metrics, optimizers
from .callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
                        ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN)
from .callbacks import GeneratorStates, TimeLimit
from .functional import Functional
from .model import Model, NonFiniteLoss
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model", "NonFiniteLoss", "BackupAndRestore", "Callback", "CSVLogger", "EarlyStopping", "History",
           "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau",
           "TerminateOnNaN", "Functional", "callbacks", "losses", "metrics",
           "optimizers", "GeneratorStates", "TimeLimit"]
