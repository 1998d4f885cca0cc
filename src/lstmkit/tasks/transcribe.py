"""Speech recognition: log-mel frames -> bidirectional LSTM stack -> characters, trained with CTC.

The acoustic model stacks `stack` consecutive 10 ms frames into one step (fewer, richer steps: the
LSTM runs `stack` times fewer steps, and the prompts' 13 characters per second still fit), runs a
bidirectional `lstmkit.nn.LSTM` stack over the padded batch with a step mask, and scores every
character plus the CTC blank per step. Beam search can add a character n-gram language model fit
on the training transcripts (`charlm`, shallow fusion). Training and evaluation live in
`transcribe_train`; this module holds what inference needs: the alphabet, the network, the language
model, saving and loading, and `transcribe`.

Example:
    >>> from lstmkit.tasks.transcribe import load, transcribe
    >>> model = load("runs/transcribe")                       # doctest: +SKIP
    >>> transcribe(model, ["hello.wav"])                      # doctest: +SKIP
    ['hello']
"""
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .. import nn as lnn
from ..data.audio import FeatureConfig, featurize, load_audio
from ..errors import DataError, ModelFileError
from ..saving import read_model_dir, write_model_dir
from .charlm import CharNgramLM
from .ctc import beam_decode, greedy_decode

TASK = "transcribe"


@dataclass
class TranscribeConfig:
    """The whole recipe: features, network and training; saved next to the weights."""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    stack: int = 4  # 10 ms frames per LSTM step: 25 steps/s leave room for ~13 chars/s and blanks
    hidden: int = 192  # sized so that training fits about 10 minutes on one CPU core
    layers: int = 2
    dropout: float = 0.35  # between LSTM layers and before the output layer: a 25-minute corpus
    epochs: int = 90  # about 7 minutes on one quiet CPU core; tempo changes curb overfitting
    batch_frames: int = 2000  # a batch holds about this many 10 ms frames (sequences vary 100-fold)
    lr: float = 4e-3  # the peak of a one-cycle schedule
    max_seconds: float = 15.0  # longer recordings (a few long menus) cost much and teach little
    # speed perturbation: each epoch plays each recording at one of these tempos (at no extra cost
    # per epoch); it pays off with more epochs, not with few (README)
    speeds: tuple = (0.9, 1.0, 1.1)
    spec_augment: bool = True
    synthetic: int = 0  # espeak-ng phrases added to the acoustic model's training data (README)
    spec_time: float = 0.05  # each of SpecAugment's two time masks covers up to this share of a recording
    test_fraction: float = 0.15
    seed: int = 0
    # decoding: prefix beam search with a character n-gram LM fit on the training transcripts;
    # weight and per-character bonus were chosen on a validation split of the training set (README)
    beam: int = 16
    lm_order: int = 8  # 0: no language model
    lm_weight: float = 1.0
    lm_bonus: float = 2.0  # added per character: without it the LM favours dropping characters

    def to_dict(self) -> dict:
        return {**asdict(self), "features": self.features.to_dict(), "speeds": list(self.speeds)}

    @classmethod
    def from_dict(cls, d: dict) -> "TranscribeConfig":
        return cls(**{**d, "features": FeatureConfig(**d["features"]), "speeds": tuple(d["speeds"])})


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
        stack, hidden, layers, dropout: see TranscribeConfig.

    Example:
        >>> m = SpeechModel(40, 29, stack=3, hidden=16, layers=1)
        >>> lp, n = m(torch.randn(2, 10, 40), torch.tensor([10, 7]))
        >>> tuple(lp.shape), n.tolist()
        ((2, 4, 29), [4, 3])
    """

    def __init__(self, n_features, n_labels, *, stack=4, hidden=192, layers=2, dropout=0.35):
        super().__init__()
        self.stack = stack
        self.lstm = lnn.LSTM(n_features * stack, hidden, layers, batch_first=True,
                             dropout=dropout if layers > 1 else 0.0, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_labels)

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


@dataclass
class Transcriber:
    """A trained model with what it needs to read audio: config, alphabet and language model."""
    model: SpeechModel
    alphabet: Alphabet
    config: TranscribeConfig
    lm: CharNgramLM | None = None

    def log_probs(self, feats: list[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
        """(T_i, F) features -> (T_i', V) log-probabilities, one per utterance (eval mode), computed
        `batch_size` utterances at a time so that memory stays bounded."""
        self.model.eval()
        out = []
        for start in range(0, len(feats), batch_size):
            chunk = feats[start:start + batch_size]
            lengths = torch.tensor([len(f) for f in chunk])
            batch = nn.utils.rnn.pad_sequence([torch.from_numpy(f) for f in chunk], batch_first=True)
            with torch.no_grad():
                lp, steps = self.model(batch, lengths)  # (B, T', V)
            out += [lp[k, : steps[k]].numpy() for k in range(len(chunk))]
        return out

    def decode(self, log_probs: np.ndarray, beam: int | None = None, lm_weight: float | None = None) -> str:
        """Text of one utterance's (T', V) log-probabilities.

        Args:
            beam: 1 for greedy decoding, more for prefix beam search (default: the config's).
            lm_weight: the language model's weight in beam search, 0 to leave it out (default: the
                config's); greedy decoding never uses it.
        """
        beam = self.config.beam if beam is None else beam
        if beam <= 1:
            return self.alphabet.decode(greedy_decode(log_probs))
        weight = self.config.lm_weight if lm_weight is None else lm_weight
        use_lm = self.lm is not None and weight > 0
        bonus = self.config.lm_bonus

        def fused(prefix):  # labels are alphabet indices + 1; the LM's last entry is the end
            lp = self.lm.log_probs(self.alphabet.decode(prefix))
            return np.concatenate([[0.0], weight * lp[:-1] + bonus]), weight * lp[-1]

        return self.alphabet.decode(beam_decode(log_probs, beam=beam, lm=fused if use_lm else None))


def build(config: TranscribeConfig, alphabet: Alphabet) -> Transcriber:
    """A fresh (untrained) Transcriber for `config` and `alphabet`."""
    model = SpeechModel(config.features.n_features, len(alphabet), stack=config.stack,
                        hidden=config.hidden, layers=config.layers, dropout=config.dropout)
    return Transcriber(model, alphabet, config)


def save(transcriber: Transcriber, path, metrics: dict | None = None):
    """Write the model directory: config.json, model.safetensors, preprocessing.json (features,
    alphabet, and the language model's n-gram counts when there is one)."""
    config = {"task": TASK, "recipe": transcriber.config.to_dict(), "metrics": metrics or {}}
    prep = {"features": transcriber.config.features.to_dict(), "alphabet": transcriber.alphabet.chars}
    if transcriber.lm is not None:
        prep["lm"] = transcriber.lm.to_dict()
    return write_model_dir(path, config, transcriber.model.state_dict(), prep)


def load(path) -> Transcriber:
    """Read a model directory written by `save`.

    Raises:
        ModelFileError: missing, damaged, or not a transcribe model.
    """
    config, state, prep = read_model_dir(path)
    if config.get("task") != TASK or prep is None or "alphabet" not in prep:
        raise ModelFileError(f"model: {path} is not a transcribe model (task {config.get('task')!r})")
    transcriber = build(TranscribeConfig.from_dict(config["recipe"]), Alphabet(prep["alphabet"]))
    try:
        transcriber.model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(f"model: {path} weights do not match its config ({e})") from None
    if prep.get("lm"):
        transcriber.lm = CharNgramLM.from_dict(prep["lm"])
    return transcriber


def transcribe(transcriber: Transcriber, files, beam: int | None = None,
               lm_weight: float | None = None) -> list[str]:
    """Text for each audio file (any rate: resampled to the model's).

    Args:
        transcriber: a trained Transcriber (see `load`).
        files: audio file paths.
        beam: 1 for greedy decoding, more for prefix beam search (default: the config's).
        lm_weight: the language model's weight in beam search; 0 leaves it out (default: the config's).

    Returns:
        one string per file.

    Raises:
        DataError: a file is missing, unreadable or empty.
    """
    fc = transcriber.config.features
    feats = featurize([load_audio(f, fc.sample_rate) for f in files], fc)
    return [transcriber.decode(lp, beam, lm_weight) for lp in transcriber.log_probs(feats)]
