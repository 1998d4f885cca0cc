"""Text to tensors: tokenizers (English words, Chinese characters or jieba words), a `Vocabulary`
and padding with masks, bundled in a `TextEncoder` that is saved with a model in preprocessing.json.

Ids: `<pad>` is 0 (so an embedding with mask_zero / padding_idx=0 ignores it) and `<unk>` is 1.
"""
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import torch

from ..errors import DataError, LstmkitError

PAD, UNK = "<pad>", "<unk>"

# English: words with inner apostrophes ("don't", "film's") stay whole; every other
# non-space, non-word character is a token of its own, so "great!" -> ["great", "!"].
_EN_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
# Chinese: one token per character, except that runs of Latin letters or digits stay words.
_ZH_TOKEN = re.compile(r"[A-Za-z0-9]+|\S")


def tokenize_en(text: str) -> list[str]:
    """English word tokens: NFKC-normalised, lower-cased, punctuation split off.

    Example:
        >>> tokenize_en("Don't miss it -- GREAT!")
        ["don't", 'miss', 'it', '-', '-', 'great', '!']
    """
    return _EN_TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def tokenize_zh_chars(text: str) -> list[str]:
    """Chinese character tokens; runs of Latin letters and digits are kept as lower-cased words.

    Example:
        >>> tokenize_zh_chars("很好用，iPhone 15")
        ['很', '好', '用', ',', 'iphone', '15']
    """
    return [t.lower() for t in _ZH_TOKEN.findall(unicodedata.normalize("NFKC", text))]


def tokenize_zh_words(text: str) -> list[str]:
    """Chinese word tokens from jieba's default dictionary (spaces dropped).

    Example:
        >>> tokenize_zh_words("这本书非常好")
        ['这', '本书', '非常', '好']
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading on first use
    text = unicodedata.normalize("NFKC", text).lower()
    return [t for t in jieba.lcut(text) if not t.isspace()]


TOKENIZERS = {"en-word": tokenize_en, "zh-char": tokenize_zh_chars, "zh-word": tokenize_zh_words}
# Chinese defaults to jieba words: as accurate as characters for the LSTM here, and 2-3x faster to train
# (shorter sequences); the TF-IDF baseline uses character n-grams either way.
DEFAULT_TOKENIZER = {"en": "en-word", "zh": "zh-word"}


def get_tokenizer(name: str):
    """The tokenizer function called `name` ("en-word", "zh-char" or "zh-word")."""
    if name not in TOKENIZERS:
        raise LstmkitError(f"tokenizer: expected one of {sorted(TOKENIZERS)}, got {name!r}")
    return TOKENIZERS[name]


class Vocabulary:
    """Token <-> id mapping with `<pad>` = 0 and `<unk>` = 1; the rest by falling frequency.

    Example:
        >>> v = Vocabulary.build([["a", "b", "a"], ["a", "c"]], min_freq=2)
        >>> v.tokens, v.encode(["a", "z"])
        (['<pad>', '<unk>', 'a'], [2, 1])
    """

    def __init__(self, tokens: list[str]):
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise DataError(f"vocabulary: expected unique tokens starting with {PAD!r}, {UNK!r}, "
                            f"got {tokens[:3]!r}...")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists, min_freq: int = 1, max_size: int | None = None) -> "Vocabulary":
        """Count tokens over `token_lists` (an iterable of token lists).

        Args:
            min_freq: keep tokens seen at least this often (rarer ones become `<unk>`).
            max_size: keep at most this many entries in all, `<pad>` and `<unk>` included.
        Returns:
            The Vocabulary; ties in frequency keep first-seen order, so a build is repeatable.
        """
        if min_freq < 1 or (max_size is not None and max_size < 3):
            raise LstmkitError(f"vocabulary: expected min_freq >= 1 and max_size >= 3 or None, "
                               f"got min_freq={min_freq}, max_size={max_size}")
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = [t for t, n in counts.most_common() if n >= min_freq and t not in (PAD, UNK)]
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        """Token list -> id list; unknown tokens map to 1."""
        return [self.index.get(t, 1) for t in tokens]

    def decode(self, ids) -> list[str]:
        """Id list -> token list, padding dropped."""
        return [self.tokens[i] for i in ids if i != 0]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        if not isinstance(d, dict) or not isinstance(d.get("tokens"), list):
            raise DataError("vocabulary: expected a dict with a 'tokens' list")
        return cls(d["tokens"])


def pad_batch(seqs: list[list[int]], max_len: int | None = None, padding: str = "right",
              truncating: str = "end") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (with 0) or truncate id lists to one length.

    Args:
        seqs: B lists of ids.
        max_len: the length T; None uses the longest sequence (at least 1).
        padding: "right" (pad after the tokens) or "left" (before).
        truncating: "end" keeps the first `max_len` tokens, "start" keeps the last ones.
    Returns:
        ids (B, T) int64 and mask (B, T) bool, True on real tokens.

    Example:
        >>> ids, mask = pad_batch([[5, 6, 7], [8]], padding="left")
        >>> ids.tolist(), mask.sum(1).tolist()
        ([[5, 6, 7], [0, 0, 8]], [3, 1])
    """
    if padding not in ("right", "left") or truncating not in ("end", "start"):
        raise LstmkitError(f"padding/truncating: expected 'right'|'left' and 'end'|'start', "
                           f"got {padding!r}, {truncating!r}")
    T = max_len or max([len(s) for s in seqs] + [1])
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    for b, s in enumerate(seqs):
        s = s[:T] if truncating == "end" else s[-T:]
        if s:
            start = 0 if padding == "right" else T - len(s)
            ids[b, start:start + len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, ids != 0


@dataclass
class TextEncoder:
    """Tokenizer + vocabulary + length: texts -> (ids, mask), and back to/from preprocessing.json.

    Example:
        >>> enc = TextEncoder.fit(["good film", "bad film"], tokenizer="en-word", max_len=8)
        >>> ids, mask = enc.encode(["good bad film"])
        >>> ids.shape, enc.vocab.decode(ids[0].tolist())
        (torch.Size([1, 3]), ['good', 'bad', 'film'])
    """
    tokenizer: str
    vocab: Vocabulary
    max_len: int = 100  # longer texts are cut; a batch is padded only to its longest text
    padding: str = "right"

    @classmethod
    def fit(cls, texts, tokenizer: str = "en-word", min_freq: int = 1, max_size: int | None = None,
            max_len: int = 100, padding: str = "right") -> "TextEncoder":
        """Build the vocabulary from `texts` (training texts only, so test words stay unknown)."""
        tok = get_tokenizer(tokenizer)
        vocab = Vocabulary.build((tok(t) for t in texts), min_freq=min_freq, max_size=max_size)
        return cls(tokenizer, vocab, max_len, padding)

    def ids(self, texts) -> list[list[int]]:
        """Texts -> id lists, cut to max_len, not padded."""
        tok = get_tokenizer(self.tokenizer)
        return [self.vocab.encode(tok(t))[: self.max_len] for t in texts]

    def encode(self, texts) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> ids (B, T) and mask (B, T), T the longest text in the batch (<= max_len)."""
        return pad_batch(self.ids(texts), padding=self.padding)

    def to_dict(self) -> dict:
        return {"tokenizer": self.tokenizer, "max_len": self.max_len, "padding": self.padding,
                "vocab": self.vocab.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "TextEncoder":
        try:
            get_tokenizer(d["tokenizer"])
            return cls(d["tokenizer"], Vocabulary.from_dict(d["vocab"]), int(d["max_len"]),
                       d["padding"])
        except (KeyError, TypeError) as e:
            raise DataError(f"text encoder: preprocessing is missing or has a bad field ({e})") from None
