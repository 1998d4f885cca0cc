import torch

import lstmkit


def test_lstm_output_shapes():
    lstm = lstmkit.nn.LSTM(10, 20, num_layers=2, batch_first=True)
    y, (h, c) = lstm(torch.randn(3, 5, 10))
    assert y.shape == (3, 5, 20) and h.shape == (2, 3, 20) and c.shape == (2, 3, 20)
