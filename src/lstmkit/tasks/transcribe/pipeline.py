"""Speech recognition: train (CTC), evaluate (CER/WER, with and without the language model),
transcribe, save and load. The network is in `net.py`; beam search with a character n-gram
language model fit on the training transcripts (`charlm.py`, shallow fusion) in `ctc.py`.

Example:
    >>> from lstmkit.data.speech_datasets import load_asterisk
    >>> from lstmkit.tasks import transcribe
    >>> items = load_asterisk()                                                     # doctest: +SKIP
    >>> model = transcribe.train(items, transcribe.Config(epochs=1), verbose=0)     # doctest: +SKIP
    >>> transcribe.evaluate(model, items)["lstm"]["cer"]                            # doctest: +SKIP
    >>> model.predict(["hello.wav"])                                                # doctest: +SKIP
"""
import random
import tempfile
from functools import partial

import numpy as np
import torch
from torch import nn

from ...data import synthetic
from ...data.audio import featurize, load_audio, spec_augment, speed_perturb
from ...data.batching import EpochBatches, length_batches
from ...data.speech_datasets import ENGLISH
from ...errors import DataError
from ...models import GeneratorStates, Model, optimizers
from ...models.schedules import OneCycle
from ...seeding import set_seed
from ..common import Predictor
from .charlm import CharNgramLM
from .config import PREPROCESSING, Config, check_saved
from .ctc import beam_decode, greedy_decode
from .net import Alphabet, SpeechModel


class Transcriber(Predictor):
    """A trained model with what it needs to read audio: config, alphabet and language model.

    Example:
        >>> Transcriber.load("runs/transcribe-asterisk").predict(["hello.wav"])  # doctest: +SKIP
        ['hello']
    """
    task, config_class = "transcribe", Config
    legacy_config = ("config", "recipe")
    PREPROCESSING = PREPROCESSING

    def __init__(self, config: Config, alphabet: Alphabet, lm: CharNgramLM | None = None):
        self.config, self.alphabet, self.lm = config, alphabet, lm
        self.model = SpeechModel(config.features.n_features, len(alphabet), stack=config.stack,
                                 hidden_size=config.hidden_size, num_layers=config.num_layers,
                                 dropout=config.dropout)

    def predict(self, files, beam: int | None = None, lm_weight: float | None = None) -> list[str]:
        """Text for each audio file (any rate: resampled to the model's).

        Args:
            files: audio file paths.
            beam: 1 for greedy decoding, more for prefix beam search (default: the config's).
            lm_weight: the language model's weight in beam search; 0 leaves it out (default: the config's).

        Raises:
            DataError: a file is missing, unreadable or empty.
        """
        fc = self.config.features
        feats = featurize([load_audio(f, fc.sample_rate) for f in files], fc)
        return [self.decode(lp, beam, lm_weight) for lp in self.log_probs(feats)]

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

    def _parts(self):
        """preprocessing.json: features, alphabet, and the language model's n-gram counts if any."""
        prep = {"features": self.config.features.to_dict(), "alphabet": self.alphabet.chars}
        if self.lm is not None:
            prep["lm"] = self.lm.to_dict()
        return {}, self.model.state_dict(), prep

    @classmethod
    def _check(cls, config, meta, prep, where):
        check_saved(config, prep, where)

    @classmethod
    def _network(cls, config, meta, prep):
        return cls(config, Alphabet(prep["alphabet"])).model

    @classmethod
    def _restore(cls, config, meta, network, prep):
        lm = CharNgramLM.from_dict(prep["lm"]) if prep.get("lm") else None
        transcriber = cls(config, Alphabet(prep["alphabet"]), lm)
        transcriber.model = network
        return transcriber


def group(text: str) -> str:
    """'sentences' for three words or more, else 'words' (digits, letters, NATO words, short prompts)."""
    return "sentences" if len(text.split()) >= 3 else "words"


def split(items, test_fraction: float, seed: int = 0):
    """Hold out `test_fraction` of the words and, separately, of the sentences (seeded).

    Args:
        items: Utterances.
        test_fraction: share held out, in (0, 1).
        seed: the shuffle's seed.

    Returns:
        (train_items, test_items).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    rng = random.Random(seed)
    train_items, test_items = [], []
    for name in ("words", "sentences"):
        part = [u for u in items if group(u.text) == name]
        rng.shuffle(part)
        n_test = round(len(part) * test_fraction)
        test_items += part[:n_test]
        train_items += part[n_test:]
    return train_items, test_items


def featurize_items(items, config: Config, speeds=(1.0,)):
    """Features of every item at every speed: list of (T, F) arrays, len(items) * len(speeds)."""
    fc = config.features
    waves = [load_audio(u.path, fc.sample_rate) for u in items]
    return featurize([speed_perturb(w, s) for s in speeds for w in waves], fc)


def train(data, config: Config | None = None, *, verbose=1, callbacks=None, **options) -> Transcriber:
    """Hold out `config.test_fraction` of the utterances (`split`) and train on the rest (`train_on`).

    Args:
        data: Utterances with normalised texts; config: the recipe (default Config()).
        verbose, callbacks, options: as for `train_on`.
    """
    config = config or Config()
    train_items, test_items = split(data, config.test_fraction, config.seed)
    if not train_items or not test_items:
        raise DataError(f"data: {len(data)} utterance(s) are too few to hold some out")
    return train_on(train_items, config, verbose=verbose, callbacks=callbacks, **options)


def train_on(items, config: Config, *, verbose=1, callbacks=None, alphabet: Alphabet | None = None,
             lm_texts=()) -> Transcriber:
    """Train a Transcriber with CTC on all of `items`, and fit its character language model on their
    transcripts (plus `lm_texts`) unless config.lm_order is 0. With config.synthetic > 0, that many
    espeak-ng phrases (`lstmkit.data.synthetic`) join the acoustic model's training data, not the LM's.

    Args:
        items: training Utterances with normalised texts.
        config: the recipe; `config.seed` makes the run repeatable.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        callbacks: `lstmkit.models.callbacks.Callback`s with the epoch hooks.
        alphabet: default: lower-case English letters, apostrophe and space.
        lm_texts: more normalised texts for the language model only.

    Returns:
        The Transcriber; its `history` maps "loss" to the mean CTC loss of each epoch.
    """
    set_seed(config.seed)
    alphabet = alphabet or Alphabet(ENGLISH)
    heard = list(items)
    with tempfile.TemporaryDirectory(prefix="lstmkit-synthetic-") as tmp:
        if config.synthetic > 0:
            heard += synthetic.synthesize(synthetic.phrases(config.synthetic, config.seed), tmp, config.seed)
        targets = [alphabet.encode(u.text) for u in heard] * len(config.speeds)  # item k at k % n
        feats = [torch.from_numpy(f) for f in featurize_items(heard, config, config.speeds)]
    transcriber = Transcriber(config, alphabet)
    if config.lm_order > 0:
        transcriber.lm = CharNgramLM(alphabet.chars, config.lm_order).fit([u.text for u in items] + list(lm_texts))
    plan, gen = _plan(feats, len(heard), config), torch.Generator().manual_seed(config.seed)
    model = _CTC(transcriber.model)
    model.compile(optimizers.AdamW(OneCycle(config.learning_rate, sum(map(len, plan)), pct_start=0.15),
                                   weight_decay=1e-2, epsilon=1e-8,
                                   global_clipnorm=5.0))  # CTC's early gradients spike on long utterances
    batches = EpochBatches(plan.__getitem__, partial(_collate, feats, targets, config, gen))
    transcriber.history = model.fit(batches, epochs=config.epochs, verbose=verbose, callbacks=[
        GeneratorStates({"spec_augment": gen}), *(callbacks or [])], precision=config.precision).history
    return transcriber


class _CTC(Model):
    """The speech network in `Model.fit`, trained with the CTC loss over each utterance's frames."""
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        (log_probs, steps), (labels, label_lengths) = y_pred, y  # (B, T', V), (B,); (sum of L,), (B,)
        return self.ctc(log_probs.float().transpose(0, 1), labels, steps, label_lengths)  # bf16: CTC in float32


def _plan(feats, n_items, config):
    """Every epoch's batches: each recording once, at a tempo drawn from `config.speeds` (so speed
    perturbation costs no extra time per epoch); recordings over `max_seconds` are left out. The first
    epoch goes shortest first, which makes CTC's first epoch stable (SortaGrad, Amodei et al. 2016)."""
    rng = random.Random(config.seed)
    max_frames = config.max_seconds * 1000 / config.features.hop_ms
    plan = []
    for epoch in range(config.epochs):
        pick = [rng.randrange(len(config.speeds)) * n_items + k for k in range(n_items)]
        pick = [k for k in pick if len(feats[k]) <= max_frames]
        if not pick:
            raise DataError(f"train: every recording is longer than max_seconds={config.max_seconds}")
        order = length_batches([len(feats[k]) for k in pick], rng, max_padded=config.batch_frames,
                               shuffle=epoch > 0)
        plan.append([[pick[j] for j in batch] for batch in order])
    return plan


def _collate(feats, targets, config, gen, idx):
    """One batch of `_plan`: ((features (B, T, F), lengths (B,)), (labels, label lengths))."""
    lengths = torch.tensor([len(feats[k]) for k in idx])
    x = nn.utils.rnn.pad_sequence([feats[k] for k in idx], batch_first=True)  # (B, T, F)
    if config.spec_augment:
        x = spec_augment(x, lengths.tolist(), time_width=config.spec_time, generator=gen)
    labels = torch.tensor([c for k in idx for c in targets[k]])
    return (x, lengths), (labels, torch.tensor([len(targets[k]) for k in idx]))


def evaluate(transcriber: Transcriber, data) -> dict:
    """CER and WER on `data`'s held-out utterances (`split`), decoded with the config's beam, with the
    language model and (when it is used) without it.

    Returns:
        {"lstm": {"cer", "wer", "n", "beam", "lm_weight", "words": {...}, "sentences": {...}},
         "lstm_no_lm": {...}} (the second only when beam search uses a language model).
    """
    config = transcriber.config
    _, test_items = split(data, config.test_fraction, config.seed)
    log_probs = transcriber.log_probs(featurize_items(test_items, config))  # the network runs once
    result = score(transcriber, test_items, log_probs=log_probs)
    fused = transcriber.lm is not None and config.beam > 1 and config.lm_weight > 0
    out = {"lstm": {**_flat(result), "beam": config.beam, "lm_weight": config.lm_weight if fused else 0.0}}
    if fused:  # what the language model adds
        out["lstm_no_lm"] = _flat(score(transcriber, test_items, lm_weight=0.0, log_probs=log_probs))
    return out


def _flat(result):
    return {**result["all"], **{g: result[g] for g in ("words", "sentences") if g in result}}


def score(transcriber: "Transcriber", items, beam: int | None = None, lm_weight: float | None = None,
             *, log_probs=None) -> dict:
    """CER and WER (jiwer) on `items`, overall and for words and sentences separately, decoded with
    `beam` and `lm_weight` (defaults: the config's; see `Transcriber.decode`). `log_probs`, the
    network's outputs for `items` (`Transcriber.log_probs`), saves running it again when the same
    items are decoded more than one way.

    Returns:
        {"all" | "words" | "sentences": {"cer", "wer", "n"}, "examples": [(reference, hypothesis), ...]}.
    """
    import jiwer

    if not items:
        raise DataError("evaluate: no utterances to evaluate")
    if log_probs is None:
        log_probs = transcriber.log_probs(featurize_items(items, transcriber.config))
    hyps = [transcriber.decode(lp, beam, lm_weight) for lp in log_probs]
    refs = [u.text for u in items]
    out = {}
    for name in ("all", "words", "sentences"):
        pairs = [(r, h) for r, h in zip(refs, hyps) if name == "all" or group(r) == name]
        if pairs:
            r, h = zip(*pairs)
            out[name] = {"cer": jiwer.cer(list(r), list(h)), "wer": jiwer.wer(list(r), list(h)),
                         "n": len(pairs)}
    out["examples"] = list(zip(refs, hyps))
    return out
