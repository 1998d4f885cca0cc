"""Machine translation with an encoder-decoder LSTM and attention: train, evaluate, translate, save
and load. The network is in `net.py`, placeholders and the subword tokenizer in `text.py`, the
scores and baselines in `metrics.py`.

Example:
    >>> from lstmkit.data.pairs import read_gettext
    >>> from lstmkit.tasks import translate
    >>> pairs = read_gettext("fr")                                                 # doctest: +SKIP
    >>> tr = translate.train(pairs, translate.Config(epochs=8, target_lang="fr"))  # doctest: +SKIP
    >>> tr.predict(["Permission denied"])                                          # doctest: +SKIP
    ['Permission refusée']
    >>> translate.evaluate(tr, pairs)["lstm"]["bleu"]                              # doctest: +SKIP
"""
import math
import random
import time

import torch

from ...data.batching import length_batches
from ...data.pairs import dedup_pairs, split_pairs
from ...errors import DataError, LstmkitError
from ... import precision
from ...seeding import set_seed
from ..common import Predictor, train_epochs
from . import metrics
from .config import Config
from .net import Seq2Seq, beam_search, greedy_search
from .text import BOS, EOS, PAD, SubwordTokenizer, protect, protect_target, restore


def split(pairs, config: Config):
    """(train, test) pairs: one translation per source of at most `config.max_words` words, then
    `config.test_fraction` of the sources held out (seeded; no source on both sides)."""
    train, test = split_pairs(dedup_pairs(pairs, config.max_words), config.test_fraction, config.seed)
    if not train or not test:
        raise DataError(f"pairs: expected enough distinct pairs of at most {config.max_words} words to hold "
                        f"some out for testing, got {len(train) + len(test)}")
    return train, test


def evaluate(translator: "Translator", data, beam=1) -> dict:
    """BLEU and chrF of the model and both baselines (`metrics.evaluate`) on `data`'s test split.

    Returns:
        {"lstm": {"bleu", "chrf", "placeholders_kept", "placeholder_sources"},
         "copy": {"bleu", "chrf"}, "retrieval": {"bleu", "chrf"}}.
    """
    train_pairs, test_pairs = split(data, translator.config)
    return metrics.evaluate(translator, train_pairs, test_pairs, translator.config.target_lang, beam)


class Translator(Predictor):
    """A trained model with its tokenizer: translate (`predict`), save and load.

    Args:
        model: the Seq2Seq network; tokenizer: its SubwordTokenizer; config: the Config.
    """
    task, config_class = "translate", Config
    legacy_config = ("config", "translate")

    def __init__(self, model: Seq2Seq, tokenizer: SubwordTokenizer, config: Config):
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

    def predict(self, sentences, beam=1) -> list[str]:
        """The translation of each sentence (`translate` without attention)."""
        return self.translate(sentences, beam=beam)

    def _parts(self):
        """preprocessing.json holds the serialized SentencePiece model, base64-encoded."""
        return {"vocab_size": self.tokenizer.vocab_size}, self.model.state_dict(), {"tokenizer": self.tokenizer.to_json()}

    @classmethod
    def _restore(cls, config, meta, state, prep):
        tokenizer = SubwordTokenizer.from_json((prep or {}).get("tokenizer"))
        model = _build_model(tokenizer.vocab_size, config)
        model.load_state_dict(state)
        return cls(model, tokenizer, config)


def _build_model(vocab_size, config: Config) -> Seq2Seq:
    return Seq2Seq(vocab_size, config.embed_size, config.hidden_size, config.num_layers, config.num_layers,
                   config.dropout)


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
    for chunk in length_batches([len(src) for src, _ in examples], rng, batch_size=batch_size):
        src = [torch.tensor(examples[i][0]) for i in chunk]
        tgt = [torch.tensor([BOS] + examples[i][1] + [EOS]) for i in chunk]
        pad = torch.nn.utils.rnn.pad_sequence
        yield pad(src, batch_first=True), pad(tgt, batch_first=True)  # (B, S), (B, T+2)


def train(data, config: Config | None = None, *, verbose=1, callbacks=None) -> Translator:
    """Train the tokenizer and the network on the training split of (source, target) pairs (`split`).

    Teacher forcing with label-smoothed cross-entropy, Adam with a linearly decaying learning rate
    (per step, over the epochs or over `time_limit`) and gradient-norm clipping.

    Args:
        data: (source, target) pairs; config: settings (default Config()).
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        callbacks: `lstmkit.models.callbacks.Callback`s with the epoch hooks.

    Returns:
        A Translator in eval mode.
    """
    config = config or Config()
    pairs, _ = split(data, config)
    set_seed(config.seed)
    protected = [protect_pair(s, t) for s, t in pairs]
    tokenizer = SubwordTokenizer.train([x for p in protected for x in p], config.vocab_size, config.tokenizer)
    examples = encode_pairs(protected, tokenizer, config.max_tokens)
    if not examples:
        raise LstmkitError(f"pairs: none fits max_tokens={config.max_tokens} tokens per side")
    model = _build_model(tokenizer.vocab_size, config)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    n_batches = math.ceil(len(examples) / config.batch_size)
    steps = config.epochs * n_batches
    rng, start = random.Random(config.seed), time.monotonic()
    limit = config.time_limit or math.inf

    def share_done(k):  # of the run: by steps, or by time when a time limit binds first
        return min(max(k / steps, (time.monotonic() - start) / limit), 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - 0.9 * share_done(k))

    def run_epoch(epoch, progress):
        return _train_epoch(model, examples, opt, sched, config, rng, progress, start + limit)

    train_epochs(model, config.epochs, run_epoch, steps=n_batches, verbose=verbose, callbacks=callbacks,
                 optimizer=opt)
    return Translator(model, tokenizer, config)


def _train_epoch(model, examples, opt, sched, config, rng, progress, deadline):
    """One pass over the examples, or until time.monotonic() passes `deadline`.

    Returns:
        ({"loss": mean token loss, "steps": batches run}, whether the deadline cut the pass short).
    """
    model.train()
    total, count = 0.0, 0
    for src, tgt in _batches(examples, config.batch_size, rng):
        with precision.autocast(config.precision, src.device):  # bf16: forward and loss, not backward
            loss = model.loss(src, tgt, config.label_smoothing)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        opt.step()
        sched.step()
        total, count = total + loss.item(), count + 1
        if progress.due():
            progress.update(count, {"loss": total / count})
        if time.monotonic() > deadline:
            break
    return {"loss": total / max(count, 1), "steps": count}, time.monotonic() > deadline
