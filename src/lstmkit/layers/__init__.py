"""Keras-style layers on lstmkit's kernels: LSTM, GRU, SimpleRNN, Bidirectional, Dense, Embedding, Dropout,
Masking, Activation, TimeDistributed, the merge layers Concatenate and Add, and Input."""
from .base import ACTIVATIONS, INITIALIZERS, Input, KerasTensor, Layer
from .base import InputLayer
from .core import Activation, Dense, Dropout, Embedding, Masking, TimeDistributed
from .merge import Add, Concatenate
from .min_rnn import MinGRU, MinLSTM
from .recurrent import LSTM, Bidirectional
from .rnn import GRU, SimpleRNN
from .activation import LeakyReLU, ReLU, Softmax
from .attention import AdditiveAttention, Attention
from .conv import Conv1D
from .merge import Average, Dot, Multiply, Subtract
from .multi_head_attention import MultiHeadAttention
from .noise import GaussianNoise, SpatialDropout1D
from .normalization import BatchNormalization, LayerNormalization
from .pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from .reshaping import Flatten, Permute, RepeatVector, Reshape

LAYERS = {cls.__name__: cls for cls in (LSTM, Bidirectional, Dense, Embedding, Dropout, Masking,
                                        Activation, TimeDistributed, Concatenate, Add, GRU, SimpleRNN,
                                        MinLSTM, MinGRU)}
# the Keras layers LSTM programs use beside the recurrent ones
KERAS_LAYERS = (RepeatVector, Conv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
                GlobalMaxPooling1D, Flatten, Reshape, Permute, LayerNormalization, BatchNormalization,
                SpatialDropout1D, GaussianNoise, Attention, AdditiveAttention, MultiHeadAttention, Multiply,
                Average, Subtract, Dot, LeakyReLU, ReLU, Softmax)
LAYERS.update({cls.__name__: cls for cls in KERAS_LAYERS})

__all__ = ["Layer", "Input", "KerasTensor", "LSTM", "Bidirectional", "Dense", "Embedding", "Dropout",
           "Masking", "Activation", "TimeDistributed", "Concatenate", "Add", "LAYERS", "ACTIVATIONS",
           "INITIALIZERS", "GRU", "SimpleRNN", "MinLSTM", "MinGRU"]
__all__ += [cls.__name__ for cls in KERAS_LAYERS] + ["InputLayer"]
from .serialization import deserialize, serialize
