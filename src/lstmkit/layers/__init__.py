"""Keras-style layers on lstmkit's kernels: LSTM, Bidirectional, Dense, Embedding, Dropout,
Masking, Activation, TimeDistributed, the merge layers Concatenate and Add, and Input."""
from .base import ACTIVATIONS, INITIALIZERS, Input, KerasTensor, Layer
from .core import Activation, Dense, Dropout, Embedding, Masking, TimeDistributed
from .merge import Add, Concatenate
from .recurrent import LSTM, Bidirectional

LAYERS = {cls.__name__: cls for cls in (LSTM, Bidirectional, Dense, Embedding, Dropout, Masking,
                                        Activation, TimeDistributed, Concatenate, Add)}

__all__ = ["Layer", "Input", "KerasTensor", "LSTM", "Bidirectional", "Dense", "Embedding", "Dropout",
           "Masking", "Activation", "TimeDistributed", "Concatenate", "Add", "LAYERS", "ACTIVATIONS",
           "INITIALIZERS"]
from .serialization import deserialize, serialize
