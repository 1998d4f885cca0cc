"""The settings of a text-classification run."""
from dataclasses import dataclass

from ...data.text import DEFAULT_TOKENIZER, TOKENIZERS
from ...errors import LstmkitError
from ..common import Config as _Base
from ...precision import PRECISIONS
from ..schema import (COUNT, FRACTION, MAX_MEMBERS, MAX_UNITS, MAX_VOCAB, POSITIVE, RATE, SEED, agree, any_of,
                      choice, fields, integer, items, number, optional, text)

POOLINGS = ("last", "mean", "max", "attention", "meanmax")
MAX_LEN = 1 << 20  # tokens kept per text
MAX_CLASSES = 1 << 16


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
    SCHEMA = {
        "lang": choice(*DEFAULT_TOKENIZER), "tokenizer": optional(choice(*TOKENIZERS)), "min_freq": COUNT,
        "max_vocab": integer(1, MAX_VOCAB), "max_len": integer(1, MAX_LEN), "embed_dim": integer(1, MAX_UNITS),
        "hidden_size": integer(1, MAX_UNITS), "num_layers": choice(1, 2), "pooling": choice(*POOLINGS),
        "dropout": RATE, "word_dropout": RATE, "recurrent_dropout": RATE, "epochs": COUNT, "batch_size": COUNT,
        "learning_rate": POSITIVE, "weight_decay": number(0), "patience": integer(0, 1 << 30),
        "class_weight": optional(choice("balanced")), "test_fraction": FRACTION, "val_fraction": FRACTION,
        "ensemble": integer(1, MAX_MEMBERS), "precision": choice(*PRECISIONS), "seed": SEED,
    }

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


# what a saved Classifier holds besides its Config: config.json's sizes, preprocessing.json's encoder
META = fields({"networks": integer(1, MAX_MEMBERS), "vocab_size": integer(2, MAX_VOCAB),
               "num_classes": integer(1, MAX_CLASSES)}, required=("networks", "vocab_size", "num_classes"))
_VOCAB = fields({"tokens": items(text(1024), min_len=2, max_len=MAX_VOCAB, distinct=True)}, required=("tokens",))
_ENCODER = {"tokenizer": choice(*TOKENIZERS), "max_len": integer(1, MAX_LEN), "padding": choice("right", "left"),
            "vocab": _VOCAB}
PREPROCESSING = fields({"text": fields(_ENCODER, required=tuple(_ENCODER)),
                        "labels": items(any_of(text(1024), integer(-(1 << 53), 1 << 53), expected="a label"),
                                        min_len=1, max_len=MAX_CLASSES, distinct=True)},
                       required=("text", "labels"))


def check_saved(config: Config, meta: dict, prep: dict, where: dict) -> None:
    """The network's sizes in config.json must be the vocabulary's and the labels' in preprocessing.json."""
    agree(f"{where['config']} vocab_size", meta["vocab_size"], len(prep["text"]["vocab"]["tokens"]),
          "the vocabulary's size in preprocessing.json")
    agree(f"{where['config']} num_classes", meta["num_classes"], len(prep["labels"]),
          "the labels in preprocessing.json")
