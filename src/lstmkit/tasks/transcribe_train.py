"""Training and evaluation for `lstmkit.tasks.transcribe`: split, featurise, CTC training, CER/WER.

Example:
    >>> from lstmkit.data.speech_datasets import load_asterisk
    >>> from lstmkit.tasks.transcribe import TranscribeConfig
    >>> train_items, test_items = split(load_asterisk(), 0.15, seed=0)
    >>> model, history = train(train_items, TranscribeConfig(epochs=1, hidden=32, layers=1), verbose=0)  # doctest: +SKIP
    >>> evaluate(model, test_items)["all"]["cer"]                                  # doctest: +SKIP
"""
import random
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

from ..data import synthetic
from ..data.audio import featurize, load_audio, spec_augment, speed_perturb
from ..data.speech_datasets import ENGLISH
from ..errors import DataError
from ..models.progress import Progress
from ..seeding import set_seed
from .charlm import CharNgramLM
from .transcribe import Alphabet, TranscribeConfig, Transcriber, build


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


def featurize_items(items, config: TranscribeConfig, speeds=(1.0,)):
    """Features of every item at every speed: list of (T, F) arrays, len(items) * len(speeds)."""
    fc = config.features
    waves = [load_audio(u.path, fc.sample_rate) for u in items]
    return featurize([speed_perturb(w, s) for s in speeds for w in waves], fc)


def batches(lengths, batch_frames: int, rng: random.Random, shuffle: bool = True):
    """Index batches of similar length holding about `batch_frames` padded frames each.

    Args:
        lengths: frames per utterance.
        batch_frames: padded frames per batch (batch size x longest utterance).
        rng: the random source for ties and batch order.
        shuffle: batches in random order; False: shortest first, which makes CTC's first epoch
            stable (SortaGrad, Amodei et al. 2016).

    Returns:
        list of index lists.
    """
    order = sorted(range(len(lengths)), key=lambda k: (lengths[k], rng.random()))
    out, current = [], []
    for k in order:
        if current and (len(current) + 1) * lengths[k] > batch_frames:
            out.append(current)
            current = []
        current.append(k)
    out.append(current)
    if shuffle:
        rng.shuffle(out)
    return out


def train(items, config: TranscribeConfig, *, verbose: int = 1, alphabet: Alphabet | None = None,
          lm_texts=()):
    """Train a Transcriber with CTC on `items` (all used for training; hold out data before), and
    fit its character language model on their transcripts (plus `lm_texts`) unless config.lm_order is 0.
    With config.synthetic > 0, that many espeak-ng phrases (`lstmkit.data.synthetic`) join the
    acoustic model's training data, not the language model's.

    Args:
        items: training Utterances with normalised texts.
        config: the recipe; `config.seed` makes the run repeatable.
        verbose: 0 silent, 1 a live progress bar on a terminal, else one line per epoch (keyword-only).
        alphabet: default: lower-case English letters, apostrophe and space (keyword-only).
        lm_texts: more normalised texts for the language model only (keyword-only).

    Returns:
        (Transcriber, history: list of {"epoch", "loss", "seconds"}).
    """
    set_seed(config.seed)
    alphabet = alphabet or Alphabet(ENGLISH)
    heard = list(items)
    with tempfile.TemporaryDirectory(prefix="lstmkit-synthetic-") as tmp:
        if config.synthetic > 0:
            heard += synthetic.synthesize(synthetic.phrases(config.synthetic, config.seed), tmp, config.seed)
        targets = [alphabet.encode(u.text) for u in heard] * len(config.speeds)  # item k at k % n
        feats = [torch.from_numpy(f) for f in featurize_items(heard, config, config.speeds)]
    transcriber = build(config, alphabet)
    if config.lm_order > 0:
        transcriber.lm = CharNgramLM(alphabet.chars, config.lm_order).fit(
            [u.text for u in items] + list(lm_texts))
    model = transcriber.model
    plan = _plan(feats, len(heard), config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=sum(map(len, plan)),
                                                pct_start=0.15)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    gen = torch.Generator().manual_seed(config.seed)
    bar = Progress(sum(map(len, plan)), 1 if verbose else 0, file=sys.stderr)  # over the whole run
    history, start, done = [], time.time(), 0
    for epoch, epoch_batches in enumerate(plan, 1):
        model.train()
        losses = []
        for idx in epoch_batches:
            losses.append(_step(model, opt, sched, ctc, feats, targets, idx, config, gen))
            done += 1
            if bar.due():
                bar.update(done, {"epoch": epoch, "ctc loss": np.mean(losses)})
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.time() - start})
        if verbose and not bar.live:
            _progress(history[-1], config.epochs)
    if bar.live:
        bar.finish(done, {"epochs": len(plan), "ctc loss": history[-1]["loss"]})
    return transcriber, history


def _plan(feats, n_items, config):
    """Every epoch's batches: each recording once, at a tempo drawn from `config.speeds` (so speed
    perturbation costs no extra time per epoch); recordings over `max_seconds` are left out."""
    rng = random.Random(config.seed)
    max_frames = config.max_seconds * 1000 / config.features.hop_ms
    plan = []
    for epoch in range(config.epochs):
        pick = [rng.randrange(len(config.speeds)) * n_items + k for k in range(n_items)]
        pick = [k for k in pick if len(feats[k]) <= max_frames]
        if not pick:
            raise DataError(f"train: every recording is longer than max_seconds={config.max_seconds}")
        order = batches([len(feats[k]) for k in pick], config.batch_frames, rng, shuffle=epoch > 0)
        plan.append([[pick[j] for j in batch] for batch in order])
    return plan


def _step(model, opt, sched, ctc, feats, targets, idx, config, gen):
    lengths = torch.tensor([len(feats[k]) for k in idx])
    x = nn.utils.rnn.pad_sequence([feats[k] for k in idx], batch_first=True)  # (B, T, F)
    if config.spec_augment:
        x = spec_augment(x, lengths.tolist(), time_width=config.spec_time, generator=gen)
    log_probs, steps = model(x, lengths)  # (B, T', V)
    y = torch.tensor([c for k in idx for c in targets[k]])
    y_len = torch.tensor([len(targets[k]) for k in idx])
    loss = ctc(log_probs.transpose(0, 1), y, steps, y_len)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # CTC's early gradients spike on long utterances
    opt.step()
    sched.step()
    return loss.item()


def _progress(h, epochs):
    eta = h["seconds"] / h["epoch"] * (epochs - h["epoch"])
    print(f"epoch {h['epoch']}/{epochs}  ctc loss {h['loss']:.3f}  {h['seconds']:.0f}s  eta {eta:.0f}s",
          file=sys.stderr, flush=True)


def evaluate(transcriber: Transcriber, items, beam: int | None = None, lm_weight: float | None = None,
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
