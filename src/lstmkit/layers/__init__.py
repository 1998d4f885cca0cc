"""Keras-style layers on lstmkit's kernels: LSTM, Bidirectional, Dense, Embedding, Dropout,
Masking, Activation, TimeDistributed and Input."""
from .base import ACTIVATIONS, INITIALIZERS, Input, Layer
from .core import Activation, Dense, Dropout, Embedding, Masking, TimeDistributed
from .recurrent import LSTM, Bidirectional

LAYERS = {cls.__name__: cls for cls in (LSTM, Bidirectional, Dense, Embedding, Dropout, Masking,
                                        Activation, TimeDistributed)}

__all__ = ["Layer", "Input", "LSTM", "Bidirectional", "Dense", "Embedding", "Dropout", "Masking",
           "Activation", "TimeDistributed", "LAYERS", "ACTIVATIONS", "INITIALIZERS"]
