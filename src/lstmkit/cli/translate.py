"""`lstmkit translate train|predict`: train an encoder-decoder LSTM with attention on sentence pairs
and score it (BLEU, chrF) next to copying the source and retrieving the nearest training pair; or
translate with a trained one."""
from pathlib import Path

from ..data.textfile import read_text
from ..errors import DataError, LstmkitError
from .common import add_task_parsers, say, train_and_evaluate

TRAIN_EXAMPLES = """  lstmkit translate train --gettext fr --epochs 10          # writes runs/translate-fr/
  lstmkit translate train --pairs pairs.tsv --target-lang de --out runs/de
"""
PREDICT_EXAMPLES = """  lstmkit translate predict --model runs/translate-fr "Permission denied" "Cannot open %s"
  lstmkit translate predict --model runs/translate-fr --input messages.txt --beam 5 --plot-attention attn.png
"""


def register(subparsers) -> None:
    """Add the `translate` parser."""
    train, predict = add_task_parsers(subparsers, "translate", "machine translation: encoder-decoder LSTM "
                                      "with attention", __doc__, TRAIN_EXAMPLES, PREDICT_EXAMPLES)
    train.add_argument("--pairs", help="UTF-8 file of source<TAB>target lines")
    train.add_argument("--gettext", metavar="LANG", help="English -> LANG pairs from the machine's "
                       "gettext catalogs (/usr/share/locale/LANG/LC_MESSAGES/*.mo), e.g. fr, es, zh_CN")
    train.add_argument("--target-lang", help="target language of --pairs (zh* selects Chinese BLEU "
                       "tokenization)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--time-limit", type=float, help="stop training after this many seconds")
    train.add_argument("--max-words", type=int, default=12, help="keep sources of at most this many "
                       "words (default 12)")
    train.add_argument("--tokenizer", default="unigram", choices=("unigram", "bpe", "char"),
                       help="SentencePiece model type: subwords (unigram, bpe) or characters (char)")
    train.add_argument("--embed-size", type=int, help="embedding size (default 128)")
    train.add_argument("--hidden-size", type=int, help="LSTM units, per direction in the encoder (default 256)")
    train.add_argument("--num-layers", "--layers", type=int,
                       help="LSTM layers in the encoder and in the decoder (default 1)")
    train.add_argument("--vocab-size", type=int, help="SentencePiece vocabulary per side (default 4000)")
    train.add_argument("--batch-size", type=int, help="sentence pairs per batch (default 64)")
    train.add_argument("--no-memory", dest="memory", action="store_false",
                       help="the plain encoder-decoder: no translation memory (the most similar training pair's "
                            "translation read by the encoder) and no copying from it")
    train.set_defaults(func=handle_train)
    predict.add_argument("sentences", nargs="*", metavar="SENTENCE", help="sentences to translate")
    predict.add_argument("--input", help="file with one sentence per line")
    predict.add_argument("--beam", type=int, default=1, help="beam width (1 = greedy search)")
    predict.add_argument("--plot-attention", metavar="PNG", help="heatmap of the first sentence's attention")
    predict.set_defaults(func=handle_predict)


def load_pairs(args):
    """Pairs, target language and a name for the run from --pairs or --gettext (exactly one)."""
    from ..data.pairs import read_gettext, read_tsv

    if bool(args.pairs) == bool(args.gettext):
        raise LstmkitError("translate train: expected exactly one of --pairs FILE.tsv or --gettext LANG")
    if args.pairs:
        return read_tsv(args.pairs), args.target_lang or "xx", Path(args.pairs).stem
    return read_gettext(args.gettext), args.gettext, args.gettext


def handle_train(args) -> int:
    """Train on the training split, score on the held-out one, write OUT/model and OUT/metrics.json."""
    from ..tasks import translate

    sizes = {"embed_size": args.embed_size, "hidden_size": args.hidden_size, "vocab_size": args.vocab_size,
             "batch_size": args.batch_size, "num_layers": args.num_layers}
    pairs, lang, name = load_pairs(args)
    config = translate.Config(max_words=args.max_words, target_lang=lang, epochs=args.epochs, seed=args.seed,
                              precision=args.precision, memory=args.memory,
                              time_limit=args.time_limit, tokenizer=args.tokenizer,
                              **{k: v for k, v in sizes.items() if v is not None})
    train_pairs, test_pairs = translate.split(pairs, config)
    say(args, f"{len(train_pairs)} training pairs, {len(test_pairs)} test pairs "
        f"(sources of <= {args.max_words} words)")
    out = Path(args.out or f"runs/translate-{name}")
    _, metrics = train_and_evaluate(translate, pairs, config, args, out)
    print(f"{'model':<10} {'BLEU':>6} {'chrF':>6}")
    for model, m in metrics.items():
        print(f"{model:<10} {m['bleu']:>6.2f} {m['chrf']:>6.2f}")
    print(f"placeholders kept: {metrics['lstm']['placeholders_kept']:.1%} of "
          f"{metrics['lstm']['placeholder_sources']} test sources; wrote {out}/model and {out}/metrics.json")
    return 0


def read_sentences(args) -> list[str]:
    """The sentences from the command line and --input; an empty one is an error."""
    sentences = list(args.sentences)
    for i, s in enumerate(sentences, 1):
        if not s.strip():
            raise LstmkitError(f"sentence {i}: expected non-empty text, got {s!r}")
    if args.input:
        lines = read_text(args.input, "--input").splitlines()
        empty = [str(n) for n, line in enumerate(lines, 1) if not line.strip()]
        if empty:
            raise DataError(f"--input: {args.input}: line(s) {', '.join(empty[:10])} are empty "
                            "(expected one sentence per line)")
        sentences += lines
    if not sentences:
        raise LstmkitError("expected sentences to translate as arguments or with --input FILE")
    return sentences


def handle_predict(args) -> int:
    """Translate sentences (arguments or --input FILE) with a saved model, one line each."""
    from ..tasks.translate import Translator

    sentences = read_sentences(args)
    translator = Translator.load(args.model, runtime=args.runtime)
    if args.plot_attention:
        from ..viz.attention import plot_attention

        out, attention = translator.translate(sentences, beam=args.beam, return_attention=True)
        weights, source_pieces, target_pieces = attention[0]
        plot_attention(weights, source_pieces, target_pieces, args.plot_attention, title=sentences[0])
    else:
        out = translator.predict(sentences, beam=args.beam)
    for line in out:
        print(line)
    return 0
