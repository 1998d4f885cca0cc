"""Machine translation with an encoder-decoder LSTM and attention: configure, train, translate,
save and load. Evaluation and baselines live in `translate_eval`, the network in `translate_model`,
placeholders and the subword tokenizer in `translate_text`.

Example:
    >>> from lstmkit.data.pairs import read_gettext, dedup_pairs, split_pairs
    >>> from lstmkit.tasks.translate import TranslateConfig, train_translator, Translator
    >>> train, test = split_pairs(dedup_pairs(read_gettext("fr"), max_words=12))  # doctest: +SKIP
    >>> tr = train_translator(train, TranslateConfig(epochs=8))  # doctest: +SKIP
    >>> tr.translate(["Permission denied"])  # doctest: +SKIP
    ['Permission refusée']
    >>> tr.save("model-fr"); Translator.load("model-fr")  # doctest: +SKIP
"""
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

from ..errors import LstmkitError, ModelFileError
from ..saving import read_model_dir, write_model_dir
from ..seeding import set_seed
from .translate_model import Seq2Seq, beam_search, greedy_search
from .translate_text import BOS, EOS, PAD, SubwordTokenizer, protect, protect_target, restore


@dataclass
class TranslateConfig:
    """Architecture and training settings.

    The defaults train an en->fr model on ~40k short software messages in about ten minutes on
    2 CPU cores; `time_limit` ends training after that many seconds, mid-epoch if need be.
    """
    embed_size: int = 128
    hidden_size: int = 256
    encoder_layers: int = 1
    decoder_layers: int = 1
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
    time_limit: float | None = None  # seconds; the learning rate then decays over this time


class Translator:
    """A trained model with its tokenizer: translate, save and load.

    Args:
        model: the Seq2Seq network; tokenizer: its SubwordTokenizer; config: the TranslateConfig.
    """

    def __init__(self, model: Seq2Seq, tokenizer: SubwordTokenizer, config: TranslateConfig):
        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config
        self.sentinel_ids = torch.tensor(tokenizer.sentinel_ids)

    def translate(self, sentences, beam=1, alpha=0.6, return_attention=False, batch_size=128):
        """Translate sentences; placeholders are carried over from each source.

        Args:
            sentences: list of non-empty strings.
            beam: 1 for greedy search, more for beam search of that width.
            alpha: length-penalty exponent for beam search.
            return_attention: also return, per sentence, (attention (T, S), source pieces,
                target pieces).

        Returns:
            Translations (and attention triples when asked).
        """
        if not isinstance(beam, int) or beam < 1:
            raise LstmkitError(f"beam: expected a positive int, got {beam!r}")
        if isinstance(sentences, str):
            raise LstmkitError("sentences: expected a list of strings, got one string")
        encoded = [self._encode_source(i, s) for i, s in enumerate(sentences)]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # less padding
        results = [None] * len(encoded)
        step = batch_size if beam == 1 else 1  # beam search runs one sentence at a time
        for start in range(0, len(order), step):
            chunk = order[start:start + step]
            for i, (tokens, attn) in zip(chunk, self._decode([encoded[i] for i in chunk], beam, alpha)):
                results[i] = (tokens, attn)
        out = [restore(self.tokenizer.decode(tokens), encoded[i][1])
               for i, (tokens, _) in enumerate(results)]
        if not return_attention:
            return out
        # one attention row per produced token, plus one for the end token when it was reached
        return out, [(attn, self.tokenizer.pieces(encoded[i][0]),
                      self.tokenizer.pieces(tokens + [EOS])[: attn.shape[0]])
                     for i, (tokens, attn) in enumerate(results)]

    def _encode_source(self, index, sentence):
        if not isinstance(sentence, str) or not sentence.strip():
            raise LstmkitError(f"sentence {index + 1}: expected non-empty text, got {sentence!r}")
        text, found = protect(sentence.strip())
        return self.tokenizer.encode(text)[: self.config.max_tokens], found

    def _decode(self, items, beam, alpha):
        ids = [torch.tensor(tokens or [EOS]) for tokens, _ in items]
        src = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=PAD)  # (B, S)
        remaining = torch.zeros(len(items), len(self.sentinel_ids), dtype=torch.bool)
        for b, (_, found) in enumerate(items):
            remaining[b, : len(found)] = True
        max_len = 2 * (src != PAD).sum(1) + 10  # (B,): a sentence's own limit, whatever its batch
        if beam == 1:
            return zip(*greedy_search(self.model, src, remaining, self.sentinel_ids, max_len))
        return [beam_search(self.model, src, remaining, self.sentinel_ids, int(max_len[0]), beam, alpha)]

    def save(self, path):
        """Write the model directory: config.json, model.safetensors and preprocessing.json (which
        holds the serialized SentencePiece model, base64-encoded)."""
        config = {"task": "translate", "vocab_size": self.tokenizer.vocab_size,
                  "translate": asdict(self.config)}
        return write_model_dir(path, config, self.model.state_dict(),
                               {"tokenizer": self.tokenizer.to_json()})

    @classmethod
    def load(cls, path) -> "Translator":
        """Read a model directory written by `save`; a foreign or damaged one raises ModelFileError."""
        config, state, prep = read_model_dir(path)
        if config.get("task") != "translate" or not isinstance(config.get("translate"), dict):
            raise ModelFileError(f"model: {path} is not a translation model (task {config.get('task')!r})")
        names = {f.name for f in fields(TranslateConfig)}
        settings = TranslateConfig(**{k: v for k, v in config["translate"].items() if k in names})
        tokenizer = SubwordTokenizer.from_json((prep or {}).get("tokenizer"))
        model = _build_model(tokenizer.vocab_size, settings)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise ModelFileError(f"model: weights in {path} do not fit its config ({e})") from None
        return cls(model, tokenizer, settings)


def _build_model(vocab_size, config: TranslateConfig) -> Seq2Seq:
    return Seq2Seq(vocab_size, config.embed_size, config.hidden_size, config.encoder_layers,
                   config.decoder_layers, config.dropout)


def protect_pair(source, target) -> tuple[str, str]:
    """Both sides with the source's placeholders replaced by sentinels (see `translate_text`)."""
    text, found = protect(source)
    return text, protect_target(target, found)


def encode_pairs(protected, tokenizer, max_tokens):
    """Protected (source, target) text -> (source ids, target ids); pairs with a side longer than
    `max_tokens` are dropped."""
    out = []
    for src_text, tgt_text in protected:
        src, tgt = tokenizer.encode(src_text), tokenizer.encode(tgt_text)
        if 0 < len(src) <= max_tokens and 0 < len(tgt) <= max_tokens:
            out.append((src, tgt))
    return out


def _batches(examples, batch_size, rng):
    """Batches of similar source length (less padding), in random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), rng.random()))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        src = [torch.tensor(examples[i][0]) for i in chunk]
        tgt = [torch.tensor([BOS] + examples[i][1] + [EOS]) for i in chunk]
        pad = torch.nn.utils.rnn.pad_sequence
        yield pad(src, batch_first=True), pad(tgt, batch_first=True)  # (B, S), (B, T+2)


def train_translator(pairs, config: TranslateConfig | None = None, verbose=1) -> Translator:
    """Train the tokenizer and the network on (source, target) pairs.

    Teacher forcing with label-smoothed cross-entropy, Adam with a linearly decaying learning
    rate and gradient-norm clipping. Progress (loss, time, ETA) goes to stderr unless verbose=0.

    Args:
        pairs: (source, target) training pairs; config: settings (default TranslateConfig());
        verbose: 0 silent, 1 one line per epoch (and a batch counter on a terminal).

    Returns:
        A Translator in eval mode.
    """
    if not pairs:
        raise LstmkitError("pairs: expected at least one (source, target) pair, got none")
    config = config or TranslateConfig()
    set_seed(config.seed)
    protected = [protect_pair(s, t) for s, t in pairs]
    tokenizer = SubwordTokenizer.train([x for p in protected for x in p], config.vocab_size,
                                       config.tokenizer)
    examples = encode_pairs(protected, tokenizer, config.max_tokens)
    model = _build_model(tokenizer.vocab_size, config)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    steps = config.epochs * math.ceil(len(examples) / config.batch_size)
    rng, start = random.Random(config.seed), time.monotonic()
    limit = config.time_limit or math.inf

    def progress(k):  # share of the run done: by steps, or by time when a time limit binds first
        return min(max(k / steps, (time.monotonic() - start) / limit), 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - 0.9 * progress(k))
    for epoch in range(1, config.epochs + 1):
        loss, stopped = _train_epoch(model, examples, opt, sched, config, rng, verbose, start + limit)
        elapsed = time.monotonic() - start
        if verbose:
            eta = 0 if stopped else min(elapsed / epoch * (config.epochs - epoch), limit - elapsed)
            print(f"epoch {epoch}/{config.epochs}  loss {loss:.3f}  {elapsed:.0f}s  ETA {eta:.0f}s"
                  + ("  (time limit reached)" if stopped else ""), file=sys.stderr, flush=True)
        if stopped:
            break
    return Translator(model, tokenizer, config)


def _train_epoch(model, examples, opt, sched, config, rng, verbose, deadline):
    """One pass over the examples, or until time.monotonic() passes `deadline`.

    Returns:
        (mean token loss, whether the deadline cut the pass short).
    """
    model.train()
    total, count = 0.0, 0
    n_batches = math.ceil(len(examples) / config.batch_size)
    show = verbose and sys.stderr.isatty()
    for k, (src, tgt) in enumerate(_batches(examples, config.batch_size, rng), 1):
        logits, _ = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=PAD, label_smoothing=config.label_smoothing)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        opt.step()
        sched.step()
        total, count = total + loss.item(), count + 1
        if show:
            print(f"\r  batch {k}/{n_batches}  loss {total / count:.3f}", end="", file=sys.stderr)
        if time.monotonic() > deadline:
            break
    if show:
        print("\r", end="", file=sys.stderr)
    return total / max(count, 1), time.monotonic() > deadline
