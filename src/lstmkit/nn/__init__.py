"""torch-style modules: drop-in replacements for torch.nn.LSTM and torch.nn.LSTMCell."""
from .cell import LSTMCell
from .lstm import LSTM
from .min_rnn import MinGRU, MinLSTM

__all__ = ["LSTM", "LSTMCell", "MinLSTM", "MinGRU"]
