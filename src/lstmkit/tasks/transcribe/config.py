"""The speech recipe: features, network, training and decoding."""
from dataclasses import dataclass, field

from ...data.audio import FeatureConfig
from ...errors import LstmkitError
from ..common import Config as _Base
from ...precision import PRECISIONS
from ..schema import (COUNT, FRACTION, MAX_INT, MAX_LAYERS, MAX_UNITS, POSITIVE, RATE, SEED, agree, boolean, choice,
                      fields, integer, items, mapping, number, optional, text)
from ...models.schema import _fail
from .charlm import BOS, EOS


_FEATURES = {"sample_rate": integer(1000, 384_000), "n_mels": integer(1, 1024), "win_ms": number(1, 1000),
             "hop_ms": number(1, 1000), "kind": choice("logmel", "mfcc"), "n_mfcc": integer(1, 1024)}
FEATURES = fields(_FEATURES)
MAX_ORDER = 32


@dataclass
class Config(_Base):
    """The whole recipe: features, network and training; saved next to the weights."""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    stack: int = 4  # 10 ms frames per LSTM step: 25 steps/s leave room for ~13 chars/s and blanks
    hidden_size: int = 192  # sized so that training fits about 10 minutes on one CPU core
    num_layers: int = 2
    dropout: float = 0.35  # between LSTM layers and before the output layer: a 25-minute corpus
    epochs: int = 90  # about 7 minutes on one quiet CPU core; tempo changes curb overfitting
    batch_frames: int = 2000  # a batch holds about this many 10 ms frames (sequences vary 100-fold)
    learning_rate: float = 4e-3  # the peak of a one-cycle schedule
    max_seconds: float = 15.0  # longer recordings (a few long menus) cost much and teach little
    # speed perturbation: each epoch plays each recording at one of these tempos (at no extra cost
    # per epoch); it pays off with more epochs, not with few (README)
    speeds: tuple = (0.9, 1.0, 1.1)
    spec_augment: bool = True
    synthetic: int = 0  # espeak-ng phrases added to the acoustic model's training data (README)
    spec_time: float = 0.05  # each of SpecAugment's two time masks covers up to this share of a recording
    test_fraction: float = 0.15
    seed: int = 0
    precision: str = "fp32"  # "bf16": mixed bfloat16 training, float32 weights (lstmkit.precision)
    # decoding: prefix beam search with a character n-gram LM fit on the training transcripts;
    # weight and per-character bonus were chosen on a validation split of the training set (README)
    beam: int = 16
    lm_order: int = 8  # 0: no language model
    lm_weight: float = 1.0
    lm_bonus: float = 2.0  # added per character: without it the LM favours dropping characters

    RENAMED = {"hidden": "hidden_size", "layers": "num_layers", "lr": "learning_rate"}
    SCHEMA = {
        "features": FEATURES, "stack": integer(1, 64), "hidden_size": integer(1, MAX_UNITS),
        "num_layers": integer(1, MAX_LAYERS), "dropout": RATE, "epochs": COUNT, "batch_frames": COUNT,
        "learning_rate": POSITIVE, "max_seconds": POSITIVE, "speeds": items(number(0.25, 4), min_len=1, max_len=64),
        "spec_augment": boolean, "synthetic": integer(0, 1 << 30), "spec_time": RATE, "test_fraction": FRACTION,
        "precision": choice(*PRECISIONS), "seed": SEED, "beam": integer(1, 1024), "lm_order": integer(0, MAX_ORDER), "lm_weight": number(0),
        "lm_bonus": number(0),
    }

    def __post_init__(self):
        if isinstance(self.features, dict):  # from config.json
            self.features = FeatureConfig(**self.features)
        self.speeds = tuple(self.speeds)
        self.check_positive("stack", "hidden_size", "num_layers", "epochs", "batch_frames", "beam")
        self.check_choice("precision", PRECISIONS)
        self.check_fraction("test_fraction")
        for name in ("synthetic", "lm_order", "lm_weight", "lm_bonus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise LstmkitError(f"{name}: expected a number >= 0, got {value!r}")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "features": self.features.to_dict(), "speeds": list(self.speeds)}


# what a saved Transcriber holds in preprocessing.json: the features, the alphabet, the n-gram LM
_LM = {"alphabet": text(1 << 16), "order": integer(1, MAX_ORDER), "discount": FRACTION,
       # [k]: a context of k characters -> the next character -> its count (fit writes none below 1)
       "counts": items(mapping(mapping(integer(1, MAX_INT), key=text(1, 1)), key=text(MAX_ORDER)),
                       min_len=1, max_len=MAX_ORDER)}
PREPROCESSING = fields({"features": FEATURES, "alphabet": items(text(1, 1), min_len=1, max_len=1 << 16, distinct=True),
                        "lm": optional(fields(_LM, required=tuple(_LM)))}, required=("alphabet",))


def check_saved(config: Config, prep: dict, where: dict) -> None:
    """What must agree in a saved Transcriber: the LM's alphabet and orders with the model's, its
    next characters inside its alphabet, and MFCCs no more than the mel bands they come from."""
    f = config.features
    if f.kind == "mfcc" and f.n_mfcc > f.n_mels:
        _fail(f"{where['config']} config.features.n_mfcc", f"at most n_mels ({f.n_mels})", f.n_mfcc)
    lm, at = prep.get("lm"), f"{where['preprocessing']} lm"
    if not lm:
        return
    agree(f"{at}.alphabet", lm["alphabet"], "".join(prep["alphabet"]), "the model's alphabet")
    agree(f"{at}.counts", len(lm["counts"]), lm["order"], "its length: one level per order")
    symbols = set(lm["alphabet"]) | {EOS}
    for k, level in enumerate(lm["counts"]):
        for context, following in level.items():
            if len(context) != k or set(context) - symbols - {BOS}:
                _fail(f"{at}.counts[{k}]", f"contexts of {k} characters of the alphabet", context)
            if set(following) - symbols:
                _fail(f"{at}.counts[{k}].{context}", "next characters of the alphabet",
                      sorted(set(following) - symbols))
