"""Keras-style layers on lstmkit's kernels: LSTM, GRU, SimpleRNN, Bidirectional, Dense, Embedding, Dropout,
Masking, Activation, TimeDistributed, the merge layers Concatenate and Add, and Input."""
from .base import ACTIVATIONS, INITIALIZERS, Input, KerasTensor, Layer
from .core import Activation, Dense, Dropout, Embedding, Masking, TimeDistributed
from .merge import Add, Concatenate
from .min_rnn import MinGRU, MinLSTM
from .recurrent import LSTM, Bidirectional
from .rnn import GRU, SimpleRNN

LAYERS = {cls.__name__: cls for cls in (LSTM, Bidirectional, Dense, Embedding, Dropout, Masking,
                                        Activation, TimeDistributed, Concatenate, Add, GRU, SimpleRNN,
                                        MinLSTM, MinGRU)}

__all__ = ["Layer", "Input", "KerasTensor", "LSTM", "Bidirectional", "Dense", "Embedding", "Dropout",
           "Masking", "Activation", "TimeDistributed", "Concatenate", "Add", "LAYERS", "ACTIVATIONS",
           "INITIALIZERS", "GRU", "SimpleRNN", "MinLSTM", "MinGRU"]
from .serialization import deserialize, serialize
