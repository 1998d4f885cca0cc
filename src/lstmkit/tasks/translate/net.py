"""The translation network: a bidirectional LSTM encoder, an LSTM decoder with Luong attention,
and greedy and beam-search decoding.

Attention (Luong et al. 2015, "general" score), for decoder output s_t and encoder outputs m_j:

    e_tj = s_t · (W_a m_j)          a_t = softmax_j(e_tj)  (padded source steps excluded)
    c_t  = Σ_j a_tj m_j             h~_t = tanh(W_c [s_t; c_t])      p(y_t) = softmax(W_o h~_t)

The decoder is not fed its previous h~ (no input feeding), so in training the whole teacher-forced
target runs through one `lstmkit.nn.LSTM` call (the fast native kernel) and attention is one batched
matmul; decoding calls the same modules one step at a time.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ... import nn as lnn
from .text import BOS, EOS, PAD


class Seq2Seq(nn.Module):
    """Encoder-decoder LSTM with attention over one shared subword vocabulary.

    Args:
        vocab_size: V, shared by source and target (one embedding table, so copied names and
            placeholders look the same on both sides).
        embed_size: E; hidden_size: H (the encoder has H per direction).
        encoder_layers, decoder_layers: stacked LSTM layers (1 or 2 is typical).
        dropout: on embeddings, between layers and before the output layer.

    Example:
        >>> model = Seq2Seq(100, 32, 32)
        >>> src, tgt_in = torch.randint(4, 100, (2, 7)), torch.randint(4, 100, (2, 5))
        >>> logits, attn = model(src, tgt_in)
        >>> tuple(logits.shape), tuple(attn.shape)
        ((2, 5, 100), (2, 5, 7))
    """

    def __init__(self, vocab_size, embed_size=256, hidden_size=256, encoder_layers=1,
                 decoder_layers=1, dropout=0.2):
        super().__init__()
        self.decoder_layers = decoder_layers
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.encoder = lnn.LSTM(embed_size, hidden_size, encoder_layers, batch_first=True,
                                dropout=dropout if encoder_layers > 1 else 0.0, bidirectional=True)
        self.bridge = nn.Linear(4 * hidden_size, 2 * hidden_size)  # encoder final (h, c) -> decoder's
        self.decoder = lnn.LSTM(embed_size, hidden_size, decoder_layers, batch_first=True,
                                dropout=dropout if decoder_layers > 1 else 0.0)
        self.attn_key = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_a
        self.combine = nn.Linear(3 * hidden_size, hidden_size)  # W_c
        self.out = nn.Linear(hidden_size, vocab_size)  # W_o
        self.drop = nn.Dropout(dropout)

    def encode(self, src):
        """src (B, S) right-padded ids -> (memory (B, S, 2H), keys (B, S, H), mask (B, S), state)."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.drop(self.embed(src)), lengths, batch_first=True,
                                      enforce_sorted=False)
        memory, (h, c) = self.encoder(packed)
        memory, _ = pad_packed_sequence(memory, batch_first=True, total_length=src.shape[1])
        # last layer, both directions, h and c: (B, 4H) -> decoder (h0, c0) for every layer
        final = torch.cat([h[-2], h[-1], c[-2], c[-1]], -1)
        h0, c0 = torch.tanh(self.bridge(final)).chunk(2, -1)  # (B, H) each
        state = tuple(s.unsqueeze(0).repeat(self.decoder_layers, 1, 1).contiguous() for s in (h0, c0))
        return memory, self.attn_key(memory), mask, state

    def attend(self, tgt_in, state, memory, keys, mask):
        """The decoder over tgt_in (B, T) from `state`, then attention: (h~ (B, T, H), attention
        (B, T, S), new state)."""
        s, state = self.decoder(self.drop(self.embed(tgt_in)), state)  # (B, T, H)
        scores = torch.bmm(s, keys.transpose(1, 2))  # (B, T, S)
        attn = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        context = torch.bmm(attn, memory)  # (B, T, 2H)
        return torch.tanh(self.combine(torch.cat([s, context], -1))), attn, state  # h~ (B, T, H)

    def decode(self, tgt_in, state, memory, keys, mask):
        """Run the decoder over tgt_in (B, T) from `state`.

        Returns:
            (logits (B, T, V), attention (B, T, S), new state).
        """
        h, attn, state = self.attend(tgt_in, state, memory, keys, mask)
        return self.out(self.drop(h)), attn, state

    def forward(self, src, tgt_in):
        """Teacher forcing: src (B, S), tgt_in (B, T) starting with BOS -> (logits, attention)."""
        memory, keys, mask, state = self.encode(src)
        logits, attn, _ = self.decode(tgt_in, state, memory, keys, mask)
        return logits, attn

    def loss(self, src, tgt, label_smoothing=0.0):
        """Teacher-forced mean token cross-entropy of tgt (B, T+1) = BOS, tokens, EOS, PAD... given
        src (B, S). The output layer, the largest cost of a training step (V = 4000 outputs per token),
        runs only at the target's real tokens, not at its padding (about a third of a length-bucketed
        batch of gettext messages).

        Example:
            >>> model = Seq2Seq(100, 16, 16)
            >>> float(model.loss(torch.randint(4, 100, (2, 7)), torch.randint(4, 100, (2, 5)))) > 0
            True
        """
        memory, keys, mask, state = self.encode(src)
        h, _, _ = self.attend(tgt[:, :-1], state, memory, keys, mask)  # (B, T, H)
        gold = tgt[:, 1:]
        real = gold != PAD  # (B, T)
        logits = self.out(self.drop(h)[real])  # (N, V), N real target tokens (dropout drawn as before, over all)
        return F.cross_entropy(logits.float(), gold[real], label_smoothing=label_smoothing)


class CopySeq2Seq(Seq2Seq):
    """Seq2Seq with a copy mechanism (pointer-generator, See et al. 2017) over its input, for the
    retrieval-augmented translator whose input holds a similar pair's translation (`memory.augment`):

        g_t = sigmoid(w_g · h~_t + b_g)
        p(y_t = v) = g_t softmax(W_o h~_t)_v + (1 - g_t) Σ_{j: x_j = v} a_tj

    `decode` returns log p as its "logits" (log_softmax leaves them unchanged), so greedy and beam
    search drive it as they drive Seq2Seq. The input ids ride along as the last channel of `memory`
    (exact in float32 for ids below 2**24), so the searches' per-beam expansion of memory carries them.

    Example:
        >>> model = CopySeq2Seq(100, 16, 16)
        >>> logp, attn = model(torch.randint(4, 100, (2, 7)), torch.randint(4, 100, (2, 5)))
        >>> bool(torch.allclose(logp.exp().sum(-1), torch.ones(2, 5)))
        True
    """

    def __init__(self, vocab_size, embed_size=256, hidden_size=256, encoder_layers=1,
                 decoder_layers=1, dropout=0.2):
        super().__init__(vocab_size, embed_size, hidden_size, encoder_layers, decoder_layers, dropout)
        self.gate = nn.Linear(hidden_size, 1)  # w_g, b_g

    def encode(self, src):
        memory, keys, mask, state = super().encode(src)
        return torch.cat([memory, src[..., None].to(memory.dtype)], -1), keys, mask, state

    def _mix(self, h, attn, ids):
        """log p (..., V) from h~ (..., H), attention (..., S) and the input ids (..., S)."""
        vocab = self.out(self.drop(h)).float().softmax(-1)
        copied = torch.zeros_like(vocab).scatter_add_(-1, ids, attn.float())
        g = torch.sigmoid(self.gate(h)).float()
        return (g * vocab + (1 - g) * copied).clamp(min=1e-9).log()

    def decode(self, tgt_in, state, memory, keys, mask):
        ids = memory[..., -1].long()  # (B, S)
        h, attn, state = self.attend(tgt_in, state, memory[..., :-1], keys, mask)
        return self._mix(h, attn, ids[:, None, :].expand(-1, h.shape[1], -1)), attn, state

    def loss(self, src, tgt, label_smoothing=0.0):
        """Label-smoothed negative log-likelihood of tgt (B, T+1) under the mixture p, at the
        target's real tokens only (as `Seq2Seq.loss`)."""
        memory, keys, mask, state = self.encode(src)
        h, attn, _ = self.attend(tgt[:, :-1], state, memory[..., :-1], keys, mask)
        gold = tgt[:, 1:]
        real = gold != PAD  # (B, T)
        rows = torch.arange(src.shape[0])[:, None].expand_as(real)[real]  # batch row of each real token
        logp = self._mix(h[real], attn[real], src[rows])  # (N, V)
        nll = -logp.gather(1, gold[real][:, None])[:, 0]
        return ((1 - label_smoothing) * nll - label_smoothing * logp.mean(1)).mean()


def _constrain(logp, remaining, sentinel_ids, steps_left):
    """Placeholder-constrained decoding: a sentinel may be emitted only if the source has it and it
    was not emitted yet; the end token only once every source sentinel was emitted; and when no
    more steps are left than sentinels remain, only those sentinels.
    logp (N, V); remaining (N, K) bool; steps_left int or (N,)."""
    logp = logp.clone()
    logp[:, sentinel_ids] = logp[:, sentinel_ids].masked_fill(~remaining, float("-inf"))
    logp[:, EOS] = logp[:, EOS].masked_fill(remaining.any(1), float("-inf"))
    force = remaining.sum(1) >= torch.as_tensor(steps_left)  # (N,)
    if force.any():
        only = torch.full_like(logp, float("-inf"))
        only[:, sentinel_ids] = 0.0
        logp = torch.where(force[:, None], logp + only, logp)
    return logp


def _emit(remaining, tokens, sentinel_ids):
    """Mark the sentinels in tokens (N,) as used."""
    return remaining & (tokens[:, None] != sentinel_ids[None, :])


@torch.no_grad()
def greedy_search(model, src, remaining, sentinel_ids, max_len):
    """Most probable next token at every step, for a batch.

    Args:
        model: a Seq2Seq in eval mode.
        src: (B, S) right-padded ids.
        remaining: (B, K) bool, the sentinels each source contains (see `_constrain`).
        sentinel_ids: (K,) ids of the sentinels.
        max_len: most target tokens produced (end token excluded): an int, or (B,) per sentence.

    Returns:
        (token lists without BOS/EOS, attention tensors (T_b, S) per sentence).
    """
    memory, keys, mask, state = model.encode(src)
    batch = src.shape[0]
    limit = torch.as_tensor(max_len).expand(batch)
    token = torch.full((batch, 1), BOS, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    steps, attns = [], []
    for t in range(int(limit.max())):
        logits, attn, state = model.decode(token, state, memory, keys, mask)
        logp = _constrain(logits[:, 0].log_softmax(-1), remaining, sentinel_ids, limit - t)
        token = logp.argmax(-1).masked_fill(done, PAD)[:, None]  # (B, 1)
        remaining = _emit(remaining, token[:, 0], sentinel_ids)
        steps.append(token[:, 0])
        attns.append(attn[:, 0])
        done |= (token[:, 0] == EOS) | (t + 1 >= limit)
        if done.all():
            break
    tokens = torch.stack(steps, 1).tolist()  # (B, T)
    attn = torch.stack(attns, 1)  # (B, T, S)
    out, weights = [], []
    for b, row in enumerate(tokens):
        n = next((k for k, x in enumerate(row) if x in (EOS, PAD)), len(row))
        ended = n < len(row) and row[n] == EOS
        out.append(row[:n])
        weights.append(attn[b, : n + ended, : int(mask[b].sum())])
    return out, weights


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + |Y|) / 6) ** alpha (Wu et al. 2016): alpha 0 ranks by raw log-probability."""
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def beam_search(model, src, remaining, sentinel_ids, max_len, width=5, alpha=0.6):
    """Beam search for one sentence: keep the `width` best prefixes; a prefix that ends is set
    aside; stop when `width` have ended or after `max_len` steps; return the ended prefix with the
    best log-probability / length_penalty. Width 1 takes the same argmax path as greedy search.

    Args:
        src: (1, S) ids; remaining: (1, K) bool; others as in `greedy_search`.
        width: beams kept per step; alpha: length-penalty exponent.

    Returns:
        (tokens without BOS/EOS, attention (T, S)).
    """
    memory, keys, mask, state = model.encode(src)
    prefixes = [[]]
    scores = torch.zeros(1)
    attn_hist = memory.new_zeros(1, 0, src.shape[1])  # (N, t, S)
    token = torch.full((1, 1), BOS, dtype=torch.long)
    finished = []  # (normalized score, tokens, attention)
    for step in range(max_len):
        n = len(prefixes)
        logits, attn, state = model.decode(token, state, memory.expand(n, -1, -1),
                                           keys.expand(n, -1, -1), mask.expand(n, -1))
        logp = _constrain(logits[:, 0].log_softmax(-1), remaining, sentinel_ids, max_len - step)
        top = (scores[:, None] + logp).view(-1).topk(width)
        vocab = logp.shape[1]
        beam, word = top.indices // vocab, top.indices % vocab
        attn_hist = torch.cat([attn_hist[beam], attn[beam]], 1)
        keep = []
        for j in range(width):
            if not torch.isfinite(top.values[j]):
                continue
            prefix = prefixes[beam[j]] + [int(word[j])]
            ended = int(word[j]) == EOS
            if ended or step == max_len - 1:
                n_tok = len(prefix) - ended
                score = float(top.values[j]) / length_penalty(n_tok, alpha)
                finished.append((score, prefix[:n_tok], attn_hist[j]))
            else:
                keep.append(j)
        if len(finished) >= width or not keep:
            break
        idx = torch.tensor(keep)
        prefixes = [prefixes[beam[j]] + [int(word[j])] for j in keep]
        scores, token, attn_hist = top.values[idx], word[idx][:, None], attn_hist[idx]
        remaining = _emit(remaining[beam[idx]], word[idx], sentinel_ids)
        state = tuple(s[:, beam[idx]] for s in state)
    score, tokens, attn = max(finished, key=lambda f: f[0])
    return tokens, attn[:, : int(mask[0].sum())]
