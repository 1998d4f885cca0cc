"""`lstmkit classify train|predict`: train a bidirectional-LSTM text classifier and compare it with
TF-IDF + logistic regression and the majority class on the same held-out split; or predict with a
saved one."""
from pathlib import Path

from ..data.textfile import listed, warn_skipped
from ..errors import DataError, LstmkitError
from .common import add_task_parsers, say, train_and_evaluate

DATASETS = ("tweets", "movies", "zh-reviews")

TRAIN_EXAMPLES = """  lstmkit classify train --dataset movies                 # writes runs/classify-movies/
  lstmkit classify train --data reviews.csv --text-col review --label-col stars --out runs/reviews
  lstmkit classify train --data reviews.tsv --text-col text --label-col label --lang zh
"""
PREDICT_EXAMPLES = """  lstmkit classify predict --model runs/classify-movies "a gripping, beautifully shot film"
  lstmkit classify predict --model runs/reviews --data new.csv --text-col review
"""


def register(subparsers) -> None:
    train, predict = add_task_parsers(subparsers, "classify", "text classification and sentiment (English, "
                                      "Chinese)", __doc__, TRAIN_EXAMPLES, PREDICT_EXAMPLES)
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a .csv, .tsv or .jsonl file (UTF-8)")
    source.add_argument("--dataset", choices=DATASETS, help="a built-in sentiment set "
                        "(English tweets, English movie snippets, Chinese product reviews)")
    train.add_argument("--text-col", default="text", help="column with the texts (default: text)")
    train.add_argument("--label-col", default="label", help="column with the labels (default: label)")
    train.add_argument("--lang", choices=("en", "zh"), help="language (default: en; zh for zh-reviews)")
    train.add_argument("--tokenizer", choices=("en-word", "zh-char", "zh-word"),
                       help="default: en-word for en, zh-word (jieba) for zh")
    train.add_argument("--pooling", choices=("last", "mean", "max", "attention", "meanmax"))
    train.add_argument("--num-layers", "--layers", type=int, choices=(1, 2), help="LSTM layers (default 1)")
    train.add_argument("--epochs", type=int, help="most epochs; early stopping may end sooner")
    train.add_argument("--ensemble", type=int, help="train K networks (seeds S..S+K-1) and average "
                       "their probabilities (default 1)")
    train.set_defaults(func=handle_train)
    predict.add_argument("texts", nargs="*", help="texts to label")
    predict.add_argument("--data", help="a .csv, .tsv or .jsonl file of texts instead")
    predict.add_argument("--text-col", default="text", help="column with the texts (default: text)")
    predict.set_defaults(func=handle_predict)


def handle_train(args) -> int:
    """Train, evaluate next to the baselines, write OUT/model and OUT/metrics.json."""
    from ..data.text_datasets import load_chinese_reviews, load_vader, read_table
    from ..tasks import classify

    if args.dataset:
        data = load_chinese_reviews() if args.dataset == "zh-reviews" else load_vader(args.dataset)
    else:
        data = read_table(args.data, args.text_col, args.label_col)
    lang = args.lang or ("zh" if args.dataset == "zh-reviews" else "en")
    chosen = {"tokenizer": args.tokenizer, "pooling": args.pooling, "num_layers": args.num_layers,
              "epochs": args.epochs, "ensemble": args.ensemble}
    config = classify.Config(lang=lang, seed=args.seed, precision=args.precision, **{k: v for k, v in chosen.items() if v is not None})
    say(args, f"{data.name}: {len(data)} texts, labels {_counts(data.labels)}" + "".join(f"; {n}" for n in data.notes))
    sizes = {name: len(part) for name, part in zip(("train", "validation", "test"), classify.split(data, config))}
    out = Path(args.out or f"runs/classify-{args.dataset or Path(args.data).stem}")
    classifier, metrics = train_and_evaluate(classify, data, config, args, out, verbose=2,
                                             extra={"labels": sorted(set(data.labels)), "sizes": sizes})
    print(format_report(metrics, classifier.labels, sizes))
    print(f"wrote {out}/model and {out}/metrics.json")
    return 0


def _counts(labels) -> str:
    from collections import Counter

    return ", ".join(f"{k}: {n}" for k, n in sorted(Counter(labels).items()))


def format_report(metrics, labels, sizes) -> str:
    """The results table and each model's confusion matrix as text."""
    lines = [f"held-out test split: {sizes['test']} texts (trained on {sizes['train']}, "
             f"validated on {sizes['validation']})",
             f"{'model':<14}{'accuracy':>10}{'macro-F1':>10}{'seconds':>10}"]
    for name, m in metrics.items():
        seconds = f"{m['train_seconds']:>10.1f}" if "train_seconds" in m else f"{'-':>10}"  # none: lstm_single
        lines.append(f"{name:<14}{m['accuracy']:>10.4f}{m['macro_f1']:>10.4f}{seconds}")
    width = max(len(str(label)) for label in labels) + 2
    for name, m in metrics.items():
        lines.append(f"\nconfusion matrix, {name} (rows: true, columns: predicted)")
        lines.append(" " * width + "".join(f"{str(label):>{width}}" for label in labels))
        for label, row in zip(labels, m["confusion_matrix"]):
            lines.append(f"{str(label):<{width}}" + "".join(f"{n:>{width}}" for n in row))
    return "\n".join(lines)


def handle_predict(args) -> int:
    """Label texts (arguments or --data FILE) with a saved model: label, probability, text per line."""
    from ..data.text_datasets import read_table
    from ..tasks.classify import Classifier

    if bool(args.texts) == bool(args.data):
        raise LstmkitError("predict: give texts on the command line or --data FILE (one of the two)")
    if args.data:
        texts = read_table(args.data, args.text_col).texts  # rows with an empty text: one warning
    else:
        texts = [t for t in args.texts if t.strip()]
        empty = [k for k, t in enumerate(args.texts, 1) if not t.strip()]
        if not texts:
            raise DataError("predict: no non-empty texts to label")
        if empty:
            warn_skipped("texts", len(empty), len(args.texts), [f"empty text(s) number {listed(empty)}"])
    clf = Classifier.load(args.model, runtime=args.runtime)
    for text, (label, prob) in zip(texts, clf.predict(texts)):
        print(f"{label}\t{prob:.4f}\t{text}")
    return 0
