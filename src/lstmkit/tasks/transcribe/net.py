"""The speech network: log-mel frames -> bidirectional LSTM stack -> characters + CTC blank.

The acoustic model stacks `stack` consecutive 10 ms frames into one step (fewer, richer steps: the
LSTM runs `stack` times fewer steps, and the prompts' 13 characters per second still fit), runs a
bidirectional `lstmkit.nn.LSTM` stack over the padded batch with a step mask, and scores every
character plus the CTC blank per step.
"""
import torch
from torch import nn

from ... import nn as lnn
from ...errors import DataError


class Alphabet:
    """Characters <-> indices; index 0 is the CTC blank.

    Example:
        >>> a = Alphabet(" abc")
        >>> a.encode("cab"), a.decode([4, 2, 3])
        ([4, 2, 3], 'cab')
    """

    def __init__(self, chars):
        self.chars = list(chars)
        self.index = {c: k + 1 for k, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars) + 1  # + blank

    def encode(self, text: str) -> list[int]:
        """Indices of `text`'s characters; DataError naming those outside the alphabet."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise DataError(f"transcript {text[:40]!r}: characters outside the model's alphabet: "
                            f"{''.join(unknown)!r} (alphabet: {''.join(self.chars)!r})")
        return [self.index[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[k - 1] for k in ids if k > 0)


class SpeechModel(nn.Module):
    """Frame stacking -> bidirectional LSTM stack -> Linear over characters + blank (log-softmax).

    Args:
        n_features: F, features per 10 ms frame.
        n_labels: V, characters + 1 (blank at 0).
        stack, hidden_size, num_layers, dropout: see Config.

    Example:
        >>> m = SpeechModel(40, 29, stack=3, hidden_size=16, num_layers=1)
        >>> lp, n = m(torch.randn(2, 10, 40), torch.tensor([10, 7]))
        >>> tuple(lp.shape), n.tolist()
        ((2, 4, 29), [4, 3])
    """

    def __init__(self, n_features, n_labels, *, stack=4, hidden_size=192, num_layers=2, dropout=0.35):
        super().__init__()
        self.stack = stack
        self.lstm = lnn.LSTM(n_features * stack, hidden_size, num_layers, batch_first=True,
                             dropout=dropout if num_layers > 1 else 0.0, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_size, n_labels)

    def forward(self, feats, lengths):
        """feats (B, T, F) padded, lengths (B,) -> (log-probs (B, T', V), lengths' (B,)), T' = ceil(T/stack)."""
        b, t, f = feats.shape
        pad = (-t) % self.stack
        valid = torch.arange(t, device=feats.device)[None, :] < lengths.to(feats.device)[:, None]
        feats = feats * valid[..., None]  # the last stacked step must see zeros, not what follows
        x = nn.functional.pad(feats, (0, 0, 0, pad)).reshape(b, (t + pad) // self.stack, f * self.stack)
        steps = (lengths.cpu() + self.stack - 1) // self.stack  # (B,)
        # A step mask rather than a PackedSequence: it runs on lstmkit's fused kernel, whose
        # backward is several times faster on the CPU than torch's op on packed input.
        mask = torch.arange(x.shape[1])[None, :] < steps[:, None]  # (B, T')
        y, _ = self.lstm(x, mask=mask.to(x.device))  # (B, T', 2H)
        return self.out(self.drop(y)).log_softmax(-1), steps  # (B, T', V)
