"""`lstmkit translate`: train an attention LSTM translator, or translate with a trained one."""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..errors import DataError, LstmkitError
from .checks import check_ints

EPILOG = """examples:
  lstmkit translate train --gettext fr --epochs 10 --out model-fr
  lstmkit translate train --pairs pairs.tsv --target-lang de --out model-de
  lstmkit translate --model model-fr "Permission denied" "Cannot open %s"
  lstmkit translate --model model-fr --input messages.txt --beam 5 --plot-attention attn.png
"""


def register(subparsers) -> None:
    """Add the `translate` parser."""
    p = subparsers.add_parser(
        "translate", help="machine translation: encoder-decoder LSTM with attention",
        description="Train with `lstmkit translate train (--pairs FILE | --gettext LANG)`, or "
        "translate with `lstmkit translate --model DIR SENTENCE ...`.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("words", nargs="*", metavar="train | SENTENCE",
                   help="`train` to train; with --model, the sentences to translate")
    t = p.add_argument_group("training")
    t.add_argument("--pairs", help="UTF-8 file of source<TAB>target lines")
    t.add_argument("--gettext", metavar="LANG", help="English -> LANG pairs from the machine's "
                   "gettext catalogs (/usr/share/locale/LANG/LC_MESSAGES/*.mo), e.g. fr, es, zh_CN")
    t.add_argument("--target-lang", help="target language of --pairs (zh* selects Chinese BLEU "
                   "tokenization)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--time-limit", type=float, help="stop training after this many seconds")
    t.add_argument("--max-words", type=int, default=12, help="keep sources of at most this many "
                   "words (default 12)")
    t.add_argument("--tokenizer", default="unigram", choices=("unigram", "bpe", "char"),
                   help="SentencePiece model type: subwords (unigram, bpe) or characters (char)")
    t.add_argument("--embed-size", type=int, help="embedding size (default 128)")
    t.add_argument("--hidden-size", type=int, help="LSTM units, per direction in the encoder (default 256)")
    t.add_argument("--layers", type=int, help="LSTM layers in the encoder and in the decoder (default 1)")
    t.add_argument("--vocab-size", type=int, help="SentencePiece vocabulary per side (default 4000)")
    t.add_argument("--batch-size", type=int, help="sentence pairs per batch (default 64)")
    t.add_argument("--out", default="translate-model", help="model directory to write")
    t.add_argument("--seed", type=int, default=0)
    u = p.add_argument_group("translating")
    u.add_argument("--model", help="model directory written by `translate train`")
    u.add_argument("--input", help="file with one sentence per line")
    u.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy search)")
    u.add_argument("--plot-attention", metavar="PNG", help="heatmap of the first sentence's attention")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=handler)


def handler(args) -> int:
    if args.model:
        return _translate(args)
    if args.words == ["train"]:
        return _train(args)
    raise LstmkitError("expected `lstmkit translate train (--pairs FILE | --gettext LANG)` or "
                       "`lstmkit translate --model DIR SENTENCE ...`, got "
                       f"{' '.join(args.words) or 'no command'}")


def load_pairs(args):
    """Pairs and target language from --pairs or --gettext (exactly one)."""
    from ..data.pairs import read_gettext, read_tsv

    if bool(args.pairs) == bool(args.gettext):
        raise LstmkitError("translate train: expected exactly one of --pairs FILE.tsv or --gettext LANG")
    if args.pairs:
        return read_tsv(args.pairs), args.target_lang or "xx"
    return read_gettext(args.gettext), args.gettext


def _train(args) -> int:
    from ..data.pairs import dedup_pairs, split_pairs
    from ..tasks.translate import TranslateConfig, train_translator
    from ..tasks.translate_eval import evaluate

    check_ints(args, "epochs", "embed_size", "hidden_size", "vocab_size", "batch_size", "layers")
    sizes = {"embed_size": args.embed_size, "hidden_size": args.hidden_size, "vocab_size": args.vocab_size,
             "batch_size": args.batch_size, "encoder_layers": args.layers, "decoder_layers": args.layers}
    pairs, lang = load_pairs(args)
    train, test = split_pairs(dedup_pairs(pairs, args.max_words), 0.1, args.seed)
    if not train or not test:
        raise DataError(f"expected enough distinct pairs of at most {args.max_words} words to hold "
                        f"some out for testing, got {len(train) + len(test)}")
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    say(f"{len(train)} training pairs, {len(test)} test pairs (sources of <= {args.max_words} words)")
    start = time.monotonic()
    config = TranslateConfig(epochs=args.epochs, seed=args.seed, time_limit=args.time_limit,
                             tokenizer=args.tokenizer, **{k: v for k, v in sizes.items() if v is not None})
    translator = train_translator(train, config, verbose=0 if args.quiet else 1)
    seconds = time.monotonic() - start
    out = translator.save(args.out)
    metrics = evaluate(translator, train, test, lang)
    metrics["lstm"]["train_seconds"] = round(seconds, 1)
    _write_json(out / "metrics.json", metrics)
    print(f"{'model':<10} {'BLEU':>6} {'chrF':>6}")
    for name, m in metrics.items():
        print(f"{name:<10} {m['bleu']:>6.2f} {m['chrf']:>6.2f}")
    print(f"placeholders kept: {metrics['lstm']['placeholders_kept']:.1%} of "
          f"{metrics['lstm']['placeholder_sources']} test sources; model written to {out}")
    return 0


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def read_sentences(args) -> list[str]:
    """The sentences from the command line and --input; an empty one is an error."""
    sentences = list(args.words)
    for i, s in enumerate(sentences, 1):
        if not s.strip():
            raise LstmkitError(f"sentence {i}: expected non-empty text, got {s!r}")
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            raise DataError(f"--input: no such file {args.input!r}")
        lines = path.read_text(encoding="utf-8").splitlines()
        empty = [str(n) for n, line in enumerate(lines, 1) if not line.strip()]
        if empty:
            raise DataError(f"--input: {args.input}: line(s) {', '.join(empty[:10])} are empty "
                            "(expected one sentence per line)")
        sentences += lines
    if not sentences:
        raise LstmkitError("expected sentences to translate as arguments or with --input FILE")
    return sentences


def _translate(args) -> int:
    from ..tasks.translate import Translator

    sentences = read_sentences(args)
    translator = Translator.load(args.model)
    if args.plot_attention:
        from ..viz.attention import plot_attention

        out, attention = translator.translate(sentences, beam=args.beam, return_attention=True)
        weights, source_pieces, target_pieces = attention[0]
        plot_attention(weights, source_pieces, target_pieces, args.plot_attention, title=sentences[0])
    else:
        out = translator.translate(sentences, beam=args.beam)
    for line in out:
        print(line)
    return 0
