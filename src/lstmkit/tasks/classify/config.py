"""The settings of a text-classification run."""
from dataclasses import dataclass

from ...data.text import DEFAULT_TOKENIZER
from ...errors import LstmkitError
from ..common import Config as _Base
from ...precision import PRECISIONS

POOLINGS = ("last", "mean", "max", "attention", "meanmax")


@dataclass
class Config(_Base):
    """Everything that decides a classification run (saved in config.json).

    Defaults come from a handful of development runs on the movie snippets and the Chinese reviews
    (README, classify section).
    """
    lang: str = "en"  # "en" or "zh": picks the tokenizer and the baseline's n-grams
    tokenizer: str | None = None  # "en-word", "zh-char", "zh-word"; None: en-word / zh-word by lang
    min_freq: int = 2  # a word seen once in training cannot get a useful embedding from scratch
    max_vocab: int = 30000
    max_len: int = 200  # tokens kept per text (the start); longer texts are rare in these sets
    embed_dim: int = 128
    hidden_size: int = 64  # per direction
    num_layers: int = 1
    pooling: str = "max"  # last, mean, max, attention, or meanmax (mean and max concatenated)
    dropout: float = 0.5  # on the pooled features (and between LSTM layers)
    word_dropout: float = 0.4  # whole tokens zeroed in training: small data overfits on single words
    recurrent_dropout: float = 0.3  # variational dropout on h inside the LSTM (one mask per text)
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01  # AdamW, decoupled: keeps rarely seen embeddings small
    patience: int = 2  # epochs without a better validation loss before stopping; the best is kept
    class_weight: str | None = "balanced"  # "balanced" (n / (k * count)) or None
    test_fraction: float = 0.2
    val_fraction: float = 0.1  # of what remains after the test split
    ensemble: int = 1  # networks trained from seeds seed, seed+1, ...; probabilities averaged
    seed: int = 0
    precision: str = "fp32"  # "bf16": mixed bfloat16 training, float32 weights (lstmkit.precision)
    RENAMED = {"test_size": "test_fraction", "val_size": "val_fraction"}

    def __post_init__(self):
        self.check_positive("max_vocab", "max_len", "embed_dim", "hidden_size", "epochs", "batch_size",
                            "ensemble", "min_freq")
        self.check_fraction("test_fraction", "val_fraction")
        self.check_choice("precision", PRECISIONS)
        if self.lang not in DEFAULT_TOKENIZER:
            raise LstmkitError(f"lang: expected one of {sorted(DEFAULT_TOKENIZER)}, got {self.lang!r}")
        self.check_choice("pooling", POOLINGS)
        self.check_choice("num_layers", (1, 2))
        self.check_choice("class_weight", (None, "balanced"))
        self.tokenizer = self.tokenizer or DEFAULT_TOKENIZER[self.lang]
