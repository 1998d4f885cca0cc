"""A character n-gram language model with interpolated Kneser-Ney smoothing, for CTC beam search.

The speech model hears characters; a language model knows which character sequences make words.
Shallow fusion (Hannun et al. 2014) adds `weight * log P_lm(c | previous characters)` to a prefix's
score each time the beam search appends a character `c`, and the end-of-text probability when the
utterance ends. The model is fit on texts (a training set's transcripts), so it costs no audio.

Interpolated Kneser-Ney (Chen & Goodman 1998), for a context h of n-1 characters and its shorter
context h' (h without its first character):

    P(c | h) = max(N(h c) - D, 0) / N(h .)  +  D * T(h .) / N(h .) * P(c | h')

N counts n-grams in the texts at the highest order and, at lower orders, the number of distinct
characters seen before the n-gram (its continuation count); T(h .) is the number of distinct
characters seen after h; D = 0.75. A context never seen falls through to the shorter one; below the
unigram sits the uniform distribution over the alphabet plus the end symbol.

Example:
    >>> lm = CharNgramLM(" ab", order=3).fit(["ab ab", "ab"])
    >>> lp = lm.log_probs("a")            # log P(next | "a") over " ab" + end
    >>> bool(lp[2] > lp[1])               # "b" follows "a" in every text
    True
    >>> round(float(np.exp(lp).sum()), 6)
    1.0
"""
from collections import Counter, defaultdict

import numpy as np

CACHE_SIZE = 200_000  # context distributions kept (one float per symbol each); restarts when full
BOS = "\x02"  # pads the left of every text so that its first characters have a context
EOS = "\x03"  # the end of a text, scored when an utterance ends


class CharNgramLM:
    """Character n-gram LM over `alphabet` plus an end symbol (index len(alphabet)).

    Args:
        alphabet: the characters the LM scores (text characters outside it are refused by `fit`).
        order: n, the longest n-gram (context of n-1 characters).
        discount: D of Kneser-Ney, in (0, 1).
    """

    def __init__(self, alphabet, order: int = 6, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"order: expected an int >= 1, got {order!r}")
        if not 0 < discount < 1:
            raise ValueError(f"discount: expected a number in (0, 1), got {discount!r}")
        self.alphabet = "".join(alphabet)
        self.order = order
        self.discount = discount
        self.index = {c: k for k, c in enumerate(self.alphabet + EOS)}
        self.counts: list[dict[str, Counter]] = []  # [k]: context of k chars -> next char -> count
        self._cache: dict[str, np.ndarray] = {}

    def fit(self, texts) -> "CharNgramLM":
        """Count the n-grams of `texts` (each padded with BOS on the left and EOS on the right).

        Raises:
            ValueError: a text holds a character outside the alphabet.
        """
        grams: Counter = Counter()
        for text in texts:
            unknown = set(text) - set(self.alphabet)
            if unknown:
                raise ValueError(f"texts: characters outside the LM's alphabet: {''.join(sorted(unknown))!r}")
            padded = BOS * (self.order - 1) + text + EOS
            for end in range(self.order - 1, len(padded)):
                grams[padded[end - self.order + 1: end + 1]] += 1
        # highest order: raw counts; lower orders: continuation counts (distinct left neighbours)
        levels = [set() for _ in range(self.order)]  # [k]: the distinct (k+1)-grams
        for g in grams:
            for k in range(self.order):
                levels[k].add(g[len(g) - k - 1:])
        self.counts = [defaultdict(Counter) for _ in range(self.order)]
        for g, n in grams.items():
            self.counts[-1][g[:-1]][g[-1]] += n
        for k in range(self.order - 1):
            for g in levels[k + 1]:
                self.counts[k][g[1:-1]][g[-1]] += 1
        self._cache = {}
        return self

    def log_probs(self, context: str) -> np.ndarray:
        """log P(next | context) for every alphabet character and the end symbol, shape (len(alphabet)+1,).

        Only the last order-1 characters of `context` matter; it is padded with BOS on the left.
        """
        if not self.counts:
            raise RuntimeError("CharNgramLM: call fit(texts) first")
        h = (BOS * (self.order - 1) + context)[len(context):] if self.order > 1 else ""
        out = self._cache.get(h)
        if out is None:
            if len(self._cache) >= CACHE_SIZE:  # bounded memory over long transcription runs
                self._cache.clear()
            out = np.log(self._probs(h))
            out.flags.writeable = False  # shared by every caller through the cache
            self._cache[h] = out
        return out

    def _probs(self, h: str) -> np.ndarray:
        p = np.full(len(self.index), 1.0 / len(self.index))  # below the unigram: uniform
        for k in range(len(h) + 1):  # contexts from the shortest ("") to the longest (h)
            ctx = h[len(h) - k:]
            seen = self.counts[k].get(ctx)
            if not seen:
                continue  # an unseen context passes its shorter context's distribution up
            total = sum(seen.values())
            q = p * (self.discount * len(seen) / total)
            for c, n in seen.items():
                q[self.index[c]] += max(n - self.discount, 0.0) / total
            p = q
        return p

    def score(self, text: str) -> float:
        """log P(text + end) under the model."""
        return float(sum(self.log_probs(text[:k])[self.index[c]] for k, c in enumerate(text + EOS)))

    def to_dict(self) -> dict:
        return {"alphabet": self.alphabet, "order": self.order, "discount": self.discount,
                "counts": [{h: dict(c) for h, c in level.items()} for level in self.counts]}

    @classmethod
    def from_dict(cls, d: dict) -> "CharNgramLM":
        lm = cls(d["alphabet"], d["order"], d["discount"])
        lm.counts = [defaultdict(Counter, {h: Counter(c) for h, c in level.items()}) for level in d["counts"]]
        return lm
