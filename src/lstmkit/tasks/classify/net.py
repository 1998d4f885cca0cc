"""The text classifier network: Embedding -> bidirectional LSTM -> masked pooling -> Dense."""
import torch
from torch import nn

from ... import nn as lnn
from .config import Config


class TextClassifier(nn.Module):
    """Token ids (B, T), 0 = padding -> class logits (B, C).

    Embedding (padding id 0, i.e. Keras' mask_zero) -> bidirectional `lstmkit.nn.LSTM` run with the
    padding mask, so padded steps change no state and output zeros -> masked pooling -> Dropout -> Linear.

    Example:
        >>> net = TextClassifier(vocab_size=100, num_classes=3)
        >>> net(torch.tensor([[5, 6, 7], [8, 0, 0]])).shape
        torch.Size([2, 3])
    """

    def __init__(self, vocab_size, num_classes, embed_dim=128, hidden_size=64, num_layers=1,
                 pooling="max", dropout=0.5, word_dropout=0.25, recurrent_dropout=0.0):
        super().__init__()
        self.pooling, self.word_dropout = pooling, word_dropout
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = lnn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=True,
                             dropout=dropout if num_layers > 1 else 0.0,
                             recurrent_dropout=recurrent_dropout)
        features = 2 * hidden_size  # both directions
        if pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(features, hidden_size), nn.Tanh(),
                                           nn.Linear(hidden_size, 1, bias=False))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features * (2 if pooling == "meanmax" else 1), num_classes)

    def forward(self, ids):
        mask = ids != 0  # (B, T)
        x = self.embedding(ids)  # (B, T, E)
        if self.training and self.word_dropout:
            keep = torch.rand(ids.shape, device=ids.device) >= self.word_dropout
            x = x * keep.unsqueeze(-1) / (1 - self.word_dropout)
        y, (h, _) = self.lstm(x, mask=mask)  # y (B, T, 2H), zero on padding
        return self.output(self.dropout(self.pool(y, h, mask)))  # (B, C)

    def pool(self, y, h, mask):
        """(B, T, 2H) outputs -> (B, 2H) features (4H for meanmax), ignoring padded steps."""
        if self.pooling == "last":  # final states: forward after the last token, backward at the first
            return torch.cat([h[-2], h[-1]], dim=-1)
        m = mask.unsqueeze(-1)  # (B, T, 1)
        mean = y.sum(1) / m.sum(1).clamp(min=1)
        if self.pooling == "mean":
            return mean
        if self.pooling == "attention":
            scores = self.attention(y).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
            weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # an empty text gets no weights
            return (weights.unsqueeze(-1) * y).sum(1)
        top = y.masked_fill(~m, float("-inf")).amax(1)
        top = torch.where(mask.any(1, keepdim=True), top, torch.zeros_like(top))
        return top if self.pooling == "max" else torch.cat([mean, top], dim=-1)


def build_net(config: Config, vocab_size: int, num_classes: int) -> TextClassifier:
    """A fresh TextClassifier with `config`'s sizes."""
    return TextClassifier(vocab_size, num_classes, config.embed_dim, config.hidden_size,
                          config.num_layers, config.pooling, config.dropout, config.word_dropout,
                          config.recurrent_dropout)
