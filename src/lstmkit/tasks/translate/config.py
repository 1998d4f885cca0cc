"""The settings of a translation run."""
from dataclasses import dataclass

from ..common import Config as _Base
from ..schema import (COUNT, FRACTION, MAX_LAYERS, MAX_UNITS, MAX_VOCAB, POSITIVE, RATE, SEED, boolean, choice,
                      fields, integer, items, optional, text)
from .text import MODEL_TYPES
from ...precision import PRECISIONS


@dataclass
class Config(_Base):
    """Data, architecture and training settings.

    The defaults train an en->fr model on ~40k short software messages in about ten minutes on
    2 CPU cores; `time_limit` ends training after that many seconds, mid-epoch if need be.
    """
    max_words: int = 12  # sources of more words are left out, in training and in the test split
    test_fraction: float = 0.1  # source groups held out (no source on both sides, see split_pairs)
    target_lang: str = "xx"  # "zh..." selects sacrebleu's Chinese tokenizer for BLEU
    embed_size: int = 128
    hidden_size: int = 256  # per direction in the encoder
    num_layers: int = 1  # in the encoder and in the decoder
    dropout: float = 0.1
    vocab_size: int = 4000  # soft target for SentencePiece; the output layer's cost grows with it
    tokenizer: str = "unigram"  # SentencePiece model type: "unigram" or "bpe" subwords, or "char"
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-3  # Adam; decays linearly to 10% of this over the run
    label_smoothing: float = 0.1
    clip_norm: float = 1.0  # gradient clipping (global L2 norm)
    max_tokens: int = 64  # subword tokens per side in training; decoding stops at 2x the source + 10
    seed: int = 0
    precision: str = "fp32"  # "bf16": mixed bfloat16 training, float32 weights (lstmkit.precision)
    time_limit: float | None = None  # seconds; the learning rate then decays over this time
    # translation memory: the encoder also reads the most similar training pair's translation and the
    # decoder can copy from it (memory.py, net.CopySeq2Seq). A saved config without the field is an
    # older model without one (Translator._read_config).
    memory: bool = True
    RENAMED = {"encoder_layers": "num_layers"}
    SCHEMA = {
        "max_words": integer(1, 1 << 16), "test_fraction": FRACTION, "target_lang": text(64),
        "embed_size": integer(1, MAX_UNITS), "hidden_size": integer(1, MAX_UNITS),
        "num_layers": integer(1, MAX_LAYERS), "dropout": RATE, "vocab_size": integer(1, MAX_VOCAB),
        "tokenizer": choice(*MODEL_TYPES), "epochs": COUNT, "batch_size": COUNT, "learning_rate": POSITIVE,
        "label_smoothing": RATE, "clip_norm": POSITIVE, "max_tokens": integer(1, 1 << 16), "precision": choice(*PRECISIONS), "seed": SEED,
        "time_limit": optional(POSITIVE), "memory": boolean,
    }

    def __post_init__(self):
        self.check_positive("max_words", "embed_size", "hidden_size", "num_layers", "vocab_size", "epochs",
                            "batch_size", "max_tokens")
        self.check_fraction("test_fraction")
        self.check_choice("tokenizer", MODEL_TYPES)
        self.check_choice("precision", PRECISIONS)


# what a saved Translator holds besides its Config: the output layer's size, the SentencePiece model,
# and with `memory` the training pairs it retrieves from
META = fields({"vocab_size": integer(1, MAX_VOCAB)}, required=("vocab_size",))
MEMORY_TEXT = text(1 << 16, 1)
PREPROCESSING = fields({
    "tokenizer": fields({"type": choice("sentencepiece"), "model_proto": text(64 << 20, 1)},
                        required=("type", "model_proto")),
    "memory": fields({"sources": items(MEMORY_TEXT, min_len=1), "targets": items(MEMORY_TEXT, min_len=1)},
                     required=("sources", "targets")),
}, required=("tokenizer",))
