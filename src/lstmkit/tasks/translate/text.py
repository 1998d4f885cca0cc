"""Text side of translation: placeholder protection and the SentencePiece subword tokenizer.

Software messages carry format placeholders (`%s`, `%d`, `%1$s`, `%(name)s`, `{name}`) that a
translation must keep byte for byte. Before tokenizing, the k-th placeholder of a source is
replaced by the sentinel `<phk>`, a SentencePiece user-defined symbol (one token, never split);
in the target, a placeholder equal to source placeholder k gets the same sentinel. The model thus
learns to move sentinels, and `restore` puts the source's own placeholders back.
"""
import base64
import io
import re
from collections import Counter

import sentencepiece as spm

from ...errors import LstmkitError, ModelFileError

PLACEHOLDER = re.compile(r"""
      %\([A-Za-z_]\w*\)[-+#0]*\d*(?:\.\d+)?[a-zA-Z]                        # %(name)s
    | %(?:\d+\$)?[-+#0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGaAcspnmS%]
    | %\d+                                                                 # Qt's %1
    | \$\{[A-Za-z_]\w*\}                                                   # ${VAR}
    | \{[A-Za-z_0-9]*(?:[:!][^{}\s]*)?\}                                   # {name}, {0}, {x:>3}
""", re.VERBOSE)
MAX_SENTINELS = 16  # more placeholders than this in one message stay plain text
# SentencePiece model types that keep placeholder sentinels whole. Its "word" type is left out: it
# learns "▁<ph0>" as a word beside the sentinel "<ph0>", so placeholders would not come through.
MODEL_TYPES = ("unigram", "bpe", "char")
SENTINELS = [f"<ph{k}>" for k in range(MAX_SENTINELS)]
SENTINEL = re.compile(r"<ph(\d+)>")
PAD, UNK, BOS, EOS = 0, 1, 2, 3


def placeholders(text: str) -> list[str]:
    """The format placeholders of `text`, in order. Example: placeholders("%s of %d") == ['%s', '%d']."""
    return PLACEHOLDER.findall(text)


def protect(source: str) -> tuple[str, list[str]]:
    """Replace the source's placeholders by `<ph0>`, `<ph1>`, ...

    Returns:
        (text with sentinels, the placeholders in order).

    Example:
        >>> protect("Cannot open %s: %s")
        ('Cannot open <ph0>: <ph1>', ['%s', '%s'])
    """
    found = []

    def swap(m):
        if len(found) >= MAX_SENTINELS:
            return m.group(0)
        found.append(m.group(0))
        return SENTINELS[len(found) - 1]

    return PLACEHOLDER.sub(swap, source), found


def protect_target(target: str, source_placeholders: list[str]) -> str:
    """Replace each target placeholder by the sentinel of the source placeholder it copies: the
    first unused equal one, else (a reformatted placeholder such as `%1$s` for `%s`) the unused one
    at the same position. Placeholders with no counterpart stay plain text."""
    used, position = set(), 0

    def swap(m):
        nonlocal position
        text = m.group(0)
        k = next((j for j, p in enumerate(source_placeholders) if p == text and j not in used), None)
        if k is None and position < len(source_placeholders) and position not in used:
            k = position
        position += 1
        if k is None:
            return text
        used.add(k)
        return SENTINELS[k]

    return PLACEHOLDER.sub(swap, target)


def restore(text: str, source_placeholders: list[str]) -> str:
    """Put the source's placeholders back in place of the sentinels; unknown sentinels are dropped.

    Example:
        >>> restore("Impossible d'ouvrir <ph0> : <ph1>", ["%s", "%s"])
        "Impossible d'ouvrir %s : %s"
    """
    def back(m):
        k = int(m.group(1))
        return source_placeholders[k] if k < len(source_placeholders) else ""

    return SENTINEL.sub(back, text)


def placeholders_kept(source: str, translation: str) -> bool:
    """True when every placeholder of `source` (with its multiplicity) is in `translation`."""
    return not Counter(placeholders(source)) - Counter(placeholders(translation))


class SubwordTokenizer:
    """A SentencePiece unigram model shared by source and target, with placeholder sentinels.

    Ids: 0 pad, 1 unknown, 2 begin, 3 end. Byte fallback covers characters never seen in training;
    normalization is off so that the text (full-width CJK punctuation included) comes back as written.

    Example:
        >>> tok = SubwordTokenizer.train(["Open file", "Ouvrir le fichier"] * 20, vocab_size=60)
        >>> tok.decode(tok.encode("Open <ph0>"))
        'Open <ph0>'
    """

    def __init__(self, model_proto: bytes):
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        except (RuntimeError, TypeError) as e:
            raise ModelFileError(f"model: the SentencePiece tokenizer is damaged ({e})") from None
        self.model_proto = model_proto
        self.sentinel_ids = [self.sp.piece_to_id(s) for s in SENTINELS]

    @classmethod
    def train(cls, sentences, vocab_size=8000, model_type="unigram") -> "SubwordTokenizer":
        """Learn the vocabulary from `sentences` (already protected). `vocab_size` is a soft
        target: lowered for small corpora, raised to hold every character plus the 256 byte pieces,
        the sentinels and the 4 special ids. `model_type`: SentencePiece's "unigram" or "bpe"
        subwords, or "char" (characters)."""
        if model_type not in MODEL_TYPES:
            raise LstmkitError(f"tokenizer: expected one of {', '.join(MODEL_TYPES)}, got {model_type!r}")
        sentences = list(sentences)
        vocab_size = max(vocab_size, len(set("".join(sentences))) + 256 + MAX_SENTINELS + 4 + 16)
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=proto, vocab_size=vocab_size,
            hard_vocab_limit=False, model_type=model_type, character_coverage=0.9995,
            byte_fallback=model_type in ("unigram", "bpe"), normalization_rule_name="identity", pad_id=PAD, unk_id=UNK,
            bos_id=BOS, eos_id=EOS, user_defined_symbols=SENTINELS, num_threads=1,
            minloglevel=2, input_sentence_size=1_000_000)
        return cls(proto.getvalue())

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids) -> str:
        return self.sp.decode([int(i) for i in ids if int(i) not in (PAD, BOS, EOS)])

    def pieces(self, ids) -> list[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def to_json(self) -> dict:
        """The serialized SentencePiece model as base64, for preprocessing.json (no pickle)."""
        return {"type": "sentencepiece", "model_proto": base64.b64encode(self.model_proto).decode()}

    @classmethod
    def from_json(cls, data: dict) -> "SubwordTokenizer":
        if not isinstance(data, dict) or data.get("type") != "sentencepiece":
            raise ModelFileError("model: preprocessing.json has no SentencePiece tokenizer")
        try:
            return cls(base64.b64decode(data["model_proto"], validate=True))
        except (KeyError, ValueError) as e:
            raise ModelFileError(f"model: the tokenizer in preprocessing.json is damaged ({e})") from None
