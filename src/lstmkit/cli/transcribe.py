"""`lstmkit transcribe train|predict`: train a speech recogniser (log-mel frames -> bidirectional
LSTM -> CTC, beam search with a character language model) and measure CER/WER on held-out
recordings, or a spoken-digit classifier; or transcribe audio files."""
from pathlib import Path

from ..data.textfile import listed, warn_skipped
from ..errors import DataError, LstmkitError
from .common import add_task_parsers, train_and_evaluate

TRAIN_EXAMPLES = """  lstmkit transcribe train --asterisk                     # writes runs/transcribe-asterisk/
  lstmkit transcribe train --data clips/ --transcripts clips.tsv --epochs 60 --out runs/clips
  lstmkit transcribe train --fsdd                         # which digit was spoken (FSDD)
"""
PREDICT_EXAMPLES = """  lstmkit transcribe predict --model runs/transcribe-asterisk hello.wav goodbye.wav --beam 16
  lstmkit transcribe predict --model runs/transcribe-fsdd one.npy two.npy  # digits: (T, 13) MFCC arrays
"""


def register(subparsers) -> None:
    """Add the `transcribe` parser."""
    train, predict = add_task_parsers(subparsers, "transcribe", "speech recognition: bidirectional LSTM + "
                                      "CTC", __doc__, TRAIN_EXAMPLES, PREDICT_EXAMPLES)
    train.add_argument("--asterisk", action="store_true", help="train on the installed Asterisk prompts")
    train.add_argument("--fsdd", action="store_true", help="train the spoken-digit classifier on the "
                       "Free Spoken Digit Dataset MFCCs instead")
    train.add_argument("--data", help="folder of audio files")
    train.add_argument("--transcripts", help="file of 'id<TAB>text' or 'path: text' lines")
    train.add_argument("--epochs", type=int, help="training epochs (default: the recipe's)")
    train.add_argument("--hidden-size", "--hidden", type=int, help="LSTM units per direction (default: the recipe's)")
    train.add_argument("--num-layers", "--layers", type=int,
                       help="bidirectional LSTM layers (default: the recipe's)")
    train.add_argument("--synthetic", type=int, help="add N short phrases spoken by espeak-ng to the "
                       "acoustic model's training data (default 0)")
    predict.add_argument("files", nargs="+", metavar="FILE", help="audio files to transcribe (for a digit "
                         "model: .npy arrays of MFCC frames)")
    for p in (train, predict):
        p.add_argument("--beam", type=int, default=None, help="CTC beam width for decoding (1: greedy; "
                       "default: the recipe's, 16)")
        p.add_argument("--lm-weight", type=float, default=None, help="weight of the character language "
                       "model in beam search (0: none; default: the recipe's)")
    train.set_defaults(func=handle_train)
    predict.set_defaults(func=handle_predict)


def handle_train(args) -> int:
    """Train, measure CER/WER on the held-out recordings, write OUT/model and OUT/metrics.json."""
    from ..tasks import transcribe

    if args.fsdd:
        return _train_digits(args)
    items, name = _training_items(args)
    recipe = ("epochs", "hidden_size", "num_layers", "synthetic", "beam", "lm_weight")
    config = transcribe.Config(seed=args.seed, precision=args.precision,
                               **{k: getattr(args, k) for k in recipe if getattr(args, k) is not None})
    out = Path(args.out or f"runs/transcribe-{name}")
    _, metrics = train_and_evaluate(transcribe, items, config, args, out)
    plain = metrics.get("lstm_no_lm")
    for group in ("all", "words", "sentences"):
        r = metrics["lstm"] if group == "all" else metrics["lstm"].get(group)
        if r:
            without = f"  (without the LM: CER {(plain if group == 'all' else plain[group])['cer']:.3f})" if plain else ""
            print(f"held-out {group:<9} n={r['n']:<4} CER {r['cer']:.3f}  WER {r['wer']:.3f}{without}")
    print(f"model: {out / 'model'}  metrics: {out / 'metrics.json'}  ({metrics['lstm']['train_seconds']:.0f}s "
          "training)")
    return 0


def handle_predict(args) -> int:
    """Transcribe audio files with a saved model, or say which digit each MFCC file holds with a
    digit model: one line per file (with the file name when there are several)."""
    from ..saving import open_model_dir
    from ..tasks.common import model_dir
    from ..tasks.transcribe import Transcriber, digits

    if open_model_dir(model_dir(args.model)).config.get("task") == digits.DigitClassifier.task:
        if args.beam is not None or args.lm_weight is not None:
            raise LstmkitError(f"--beam, --lm-weight: the model in {args.model} is a digit classifier, "
                               "which has no decoding to set")
        if args.runtime != "torch":
            raise LstmkitError(f"--runtime: the model in {args.model} is a digit classifier, which has no "
                               "ONNX export; leave out --runtime onnx")
        clf = digits.DigitClassifier.load(args.model)
        texts = [str(d) for d in clf.predict(digits.read_mfcc(args.files, len(clf.mean)))]
    else:
        model = Transcriber.load(args.model, runtime=args.runtime)
        if args.lm_weight and model.lm is None:
            raise LstmkitError(f"--lm-weight: the model in {args.model} has no language model "
                               "(it was trained with lm_order=0, or before lstmkit had one)")
        texts = model.predict(args.files, beam=args.beam, lm_weight=args.lm_weight)
    for file, text in zip(args.files, texts):
        print(f"{file}\t{text}" if len(args.files) > 1 else text)
    return 0


def _training_items(args):
    """(utterances, a name for the run): the Asterisk prompts, or --data with --transcripts (texts
    normalised)."""
    from ..data.speech_datasets import Utterance, load_asterisk, load_folder, normalize_text

    if args.asterisk == bool(args.data or args.transcripts) or (args.data and not args.transcripts):
        raise LstmkitError("train: expected one of --asterisk, --fsdd, or both --data DIR and "
                           "--transcripts FILE")
    if args.asterisk:
        return load_asterisk(), "asterisk"
    entries = [Utterance(u.id, u.path, normalize_text(u.text)) for u in load_folder(args.data, args.transcripts)]
    items = [u for u in entries if u.text]
    if not items:
        raise DataError(f"--transcripts: no entry of {args.transcripts} has a text with letters or digits")
    if len(items) < len(entries):  # say "?!" or "..."
        warn_skipped(f"transcripts {args.transcripts}", len(entries) - len(items), len(entries),
                     [f"no letters or digits in the text of {listed([u.id for u in entries if not u.text], 8)}"])
    return items, Path(args.data).resolve().name


def _train_digits(args) -> int:
    from ..tasks.transcribe import digits

    if args.asterisk or args.data or args.transcripts or args.synthetic:
        raise LstmkitError("--fsdd: trains on the FSDD MFCCs; leave out --asterisk, --data, --transcripts "
                           "and --synthetic")
    chosen = {k: getattr(args, k) for k in ("epochs", "hidden_size", "num_layers") if getattr(args, k)}
    config = digits.DigitsConfig(seed=args.seed, precision=args.precision, **chosen)
    out = Path(args.out or "runs/transcribe-fsdd")
    _, metrics = train_and_evaluate(digits, digits.load_fsdd(), config, args, out)
    m = metrics["lstm"]
    print(f"FSDD held-out accuracy {m['accuracy']:.3f} (n={m['n']}, majority class "
          f"{metrics['majority']['accuracy']:.3f}, {m['train_seconds']:.0f}s training)  wrote {out}/model and "
          f"{out}/metrics.json")
    return 0
