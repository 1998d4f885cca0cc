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
from functools import partial

import torch

from ...data.batching import EpochBatches, length_batches
from ...data.pairs import dedup_pairs, split_pairs
from ...errors import DataError, LstmkitError, ModelFileError
from ...models import Model, TimeLimit, optimizers
from ...seeding import set_seed
from ..common import Predictor
from . import metrics
from ..schema import agree
from .config import META, PREPROCESSING, Config
from .memory import TranslationMemory, augment
from .net import CopySeq2Seq, Seq2Seq, beam_search, greedy_search
from .text import BOS, EOS, PAD, SubwordTokenizer, protect, protect_target, restore

# what `Config.time_limit` is measured on (models.TimeLimit's clock): None for wall seconds;
# benchmarks/translate.py sets time.process_time to budget CPU seconds on a shared machine
CLOCK = None


def _now():
    return (CLOCK or time.monotonic)()


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
        model: the Seq2Seq network (CopySeq2Seq with a memory); tokenizer: its SubwordTokenizer;
        config: the Config; memory: the TranslationMemory it retrieves from (with `config.memory`).
    """
    task, config_class = "translate", Config
    legacy_config = ("config", "translate")
    META, PREPROCESSING = META, PREPROCESSING

    def __init__(self, model: Seq2Seq, tokenizer: SubwordTokenizer, config: Config,
                 memory: TranslationMemory | None = None):
        if config.memory and memory is None:
            raise LstmkitError("memory: expected the TranslationMemory of a model trained with memory=True, got None")
        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config
        self.memory = memory if config.memory else None
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
        if self.memory is not None:
            encoded = self._with_neighbours(sentences, encoded)
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

    def _with_neighbours(self, sentences, encoded):
        """Each source's ids followed by the translation of its nearest memory pair (`augment`)."""
        nearest = self.memory.nearest([s.strip() for s in sentences])
        out = []
        for (ids, found), j in zip(encoded, nearest):
            neighbour = self.tokenizer.encode(protect_pair(*self.memory.pairs[j])[1])
            out.append((augment(ids, neighbour, self.config.max_tokens), found))
        return out

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
        """preprocessing.json holds the serialized SentencePiece model, base64-encoded, and the
        memory's pairs."""
        prep = {"tokenizer": self.tokenizer.to_json()}
        if self.memory is not None:
            prep["memory"] = self.memory.to_json()
        return {"vocab_size": self.tokenizer.vocab_size}, self.model.state_dict(), prep

    @classmethod
    def _read_config(cls, meta, prep, where):
        """As `Predictor._read_config`; a saved config without `memory` predates the field: no memory."""
        config = super()._read_config(meta, prep, where)
        saved = meta.get("config", meta.get("translate"))
        if isinstance(saved, dict) and "memory" not in saved:
            config.memory = False
        return config

    @classmethod
    def _check(cls, config, meta, prep, where):
        pieces = SubwordTokenizer.from_json(prep["tokenizer"]).vocab_size
        agree(f"{where['preprocessing']} tokenizer.model_proto", pieces, meta["vocab_size"],
              "pieces: config.json's vocab_size, the output layer's size")
        if config.memory:
            if "memory" not in prep:
                raise ModelFileError(f"{where['preprocessing']} missing field 'memory', which a model trained "
                                     "with memory=true retrieves from; retrain it")
            agree(f"{where['preprocessing']} memory.targets", len(prep["memory"]["targets"]),
                  len(prep["memory"]["sources"]), "pairs: one target per memory.sources entry")

    @classmethod
    def _network(cls, config, meta, prep):
        return _build_model(meta["vocab_size"], config)

    @classmethod
    def _restore(cls, config, meta, network, prep):
        memory = TranslationMemory.from_json(prep["memory"]) if config.memory else None
        return cls(network, SubwordTokenizer.from_json(prep["tokenizer"]), config, memory)


def _build_model(vocab_size, config: Config) -> Seq2Seq:
    kind = CopySeq2Seq if config.memory else Seq2Seq
    return kind(vocab_size, config.embed_size, config.hidden_size, config.num_layers, config.num_layers,
                config.dropout)


def protect_pair(source, target) -> tuple[str, str]:
    """Both sides with the source's placeholders replaced by sentinels (see `text.protect`)."""
    text, found = protect(source)
    return text, protect_target(target, found)


def encode_pairs(protected, tokenizer, max_tokens, neighbours=None):
    """Protected (source, target) text -> (source ids, target ids); pairs with a side longer than
    `max_tokens` are dropped. With `neighbours` (an index into `protected` per pair, -1 for none),
    the source ids are followed by the neighbour's target (`memory.augment`)."""
    ids = [(tokenizer.encode(s), tokenizer.encode(t)) for s, t in protected]
    out = []
    for k, (src, tgt) in enumerate(ids):
        if 0 < len(src) <= max_tokens and 0 < len(tgt) <= max_tokens:
            if neighbours is not None:
                src = augment(src, ids[neighbours[k]][1] if neighbours[k] >= 0 else [], max_tokens)
            out.append((src, tgt))
    return out


class _Plan:
    """Every epoch's batches of similar source length (less padding), in random order: index lists,
    `plan[epoch]`. Drawn from one seeded generator epoch by epoch as training reaches them: the same
    batches as drawing all epochs up front, without that cost when a time limit ends a run of many
    epochs (1,000 epochs of 50,000 pairs: about 50 CPU-seconds)."""

    def __init__(self, examples, config: Config):
        self.rng, self.config, self.drawn = random.Random(config.seed), config, []
        self.lengths = [len(src) for src, _ in examples]
        self.steps = config.epochs * math.ceil(len(examples) / config.batch_size)  # batches of batch_size each

    def __getitem__(self, epoch):
        while len(self.drawn) <= epoch:
            self.drawn.append(length_batches(self.lengths, self.rng, batch_size=self.config.batch_size))
        return self.drawn[epoch]


def _plan(examples, config: Config) -> _Plan:
    return _Plan(examples, config)


def _collate(examples, chunk):
    """((source (B, S), target input (B, T+1)), target output (B, T+1)), right-padded."""
    pad = torch.nn.utils.rnn.pad_sequence
    src = pad([torch.tensor(examples[i][0]) for i in chunk], batch_first=True)
    tgt = pad([torch.tensor([BOS] + examples[i][1] + [EOS]) for i in chunk], batch_first=True)  # (B, T+2)
    return (src, tgt[:, :-1]), tgt[:, 1:]


class _TeacherForcing(Model):
    """The Seq2Seq network in `Model.fit`: label-smoothed cross-entropy of each target token given
    the ones before it, padding left out."""

    def __init__(self, net: Seq2Seq, label_smoothing: float):
        super().__init__(net)
        self.label_smoothing = label_smoothing

    def forward(self, src, tgt_in):
        return src, tgt_in  # the network runs in compute_loss: Seq2Seq.loss, the output layer at real tokens only

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        src, tgt_in = y_pred  # (B, S), (B, T+1) = BOS, tokens...
        tgt = torch.cat([tgt_in[:, :1], y[0]], dim=1)  # (B, T+2) = BOS, tokens, EOS, PAD...
        return self.module.loss(src, tgt, self.label_smoothing)


def train(data, config: Config | None = None, *, verbose=1, callbacks=None) -> Translator:
    """Train the tokenizer and the network on the training split of (source, target) pairs (`split`).

    Teacher forcing with label-smoothed cross-entropy through `Model.fit`: Adam with a learning
    rate decaying linearly per step (over the epochs, or over `config.time_limit` when that binds
    first, `TimeLimit` ending the run mid-epoch) and gradient-norm clipping.

    Args:
        data: (source, target) pairs; config: settings (default Config()).
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        callbacks: more `lstmkit.models.callbacks.Callback`s for `Model.fit` (EarlyStopping,
            BackupAndRestore, ...).

    Returns:
        A Translator in eval mode.
    """
    config = config or Config()
    pairs, _ = split(data, config)
    set_seed(config.seed)
    protected = [protect_pair(s, t) for s, t in pairs]
    tokenizer = SubwordTokenizer.train([x for p in protected for x in p], config.vocab_size, config.tokenizer)
    started, memory, neighbours = _now(), None, None
    if config.memory:
        memory = TranslationMemory(pairs)
        neighbours = memory.neighbours()
    examples = encode_pairs(protected, tokenizer, config.max_tokens, neighbours)
    if not examples:
        raise LstmkitError(f"pairs: none fits max_tokens={config.max_tokens} tokens per side")
    net = _build_model(tokenizer.vocab_size, config)
    plan = _plan(examples, config)
    # the memory's lookup counts against the time limit
    spent = _now() - started
    steps = plan.steps
    budget = TimeLimit(max(config.time_limit - spent, 1.0) if config.time_limit else None, CLOCK)

    def schedule(k):  # the share of the run done: by steps, or by time when the time limit binds first
        return config.learning_rate * (1 - 0.9 * min(max(k / steps, budget.share()), 1.0))

    model = _TeacherForcing(net, config.label_smoothing)
    model.compile(optimizers.Adam(schedule, epsilon=1e-8, global_clipnorm=config.clip_norm))
    extra = [budget] if config.time_limit else []  # its per-batch check costs a sync per batch
    model.fit(EpochBatches(plan.__getitem__, partial(_collate, examples)), epochs=config.epochs,
              verbose=verbose, callbacks=[*extra, *(callbacks or [])], precision=config.precision)
    return Translator(net, tokenizer, config, memory)
