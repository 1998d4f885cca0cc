"""torch-style modules: drop-in replacements for torch.nn.LSTM, LSTMCell, RNN, RNNCell, GRU and GRUCell."""
from .cell import LSTMCell
from .lstm import LSTM
from .min_rnn import MinGRU, MinLSTM
from .rnn import GRU, RNN
from .rnn_cell import GRUCell, RNNCell

__all__ = ["LSTM", "LSTMCell", "RNN", "RNNCell", "GRU", "GRUCell", "MinLSTM", "MinGRU"]
