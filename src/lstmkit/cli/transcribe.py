"""`lstmkit transcribe`: train a speech recogniser, or turn audio files into text.

    lstmkit transcribe train --asterisk [--epochs N] [--out DIR] [--seed S]
    lstmkit transcribe train --data DIR --transcripts FILE [--epochs N] [--out DIR] [--seed S]
    lstmkit transcribe digits [--epochs N] [--out DIR]        # FSDD: which digit was spoken
    lstmkit transcribe --model DIR FILE.wav ... [--beam N] [--lm-weight W]
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from ..errors import LstmkitError
from .checks import check_ints

MODES = ("train", "digits")


def register(subparsers) -> None:
    """Add the `transcribe` parser."""
    p = subparsers.add_parser(
        "transcribe", help="speech recognition: bidirectional LSTM + CTC", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="audio files to transcribe, or the mode 'train' / 'digits'")
    p.add_argument("--model", help="model directory written by 'transcribe train'")
    p.add_argument("--beam", type=int, default=None,
                   help="CTC beam width for transcribing and for train's evaluation (1: greedy; "
                        "default: the recipe's, 16)")
    p.add_argument("--lm-weight", type=float, default=None,
                   help="weight of the character language model in beam search (0: none; "
                        "default: the recipe's)")
    p.add_argument("--asterisk", action="store_true", help="train on the installed Asterisk prompts")
    p.add_argument("--data", help="folder of audio files (train)")
    p.add_argument("--transcripts", help="file of 'id<TAB>text' or 'path: text' lines (train)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the recipe's)")
    p.add_argument("--hidden", type=int, help="LSTM units per direction (default: the recipe's)")
    p.add_argument("--layers", type=int, help="bidirectional LSTM layers (default: the recipe's)")
    p.add_argument("--synthetic", type=int, help="add N short phrases spoken by espeak-ng to the "
                                                  "acoustic model's training data (default 0)")
    p.add_argument("--out", default=None, help="output directory (default runs/transcribe or "
                   "runs/digits)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=handler)


def handler(args) -> int:
    """Dispatch on the first positional argument: a mode, or files to transcribe."""
    mode = args.files[0] if args.files and args.files[0] in MODES else None
    if mode and len(args.files) > 1:
        raise LstmkitError(f"{mode}: unexpected arguments {args.files[1:]} "
                           "(use --data/--transcripts for training data)")
    if mode == "train":
        return _train(args)
    if mode == "digits":
        return _digits(args)
    return _transcribe(args)


def _transcribe(args) -> int:
    from ..tasks.transcribe import load, transcribe

    if not args.model:
        raise LstmkitError("expected --model DIR and audio files, or the mode 'train' or 'digits'")
    if not args.files:
        raise LstmkitError("expected one or more audio files after --model DIR")
    _check_decoding(args)
    model = load(args.model)
    if args.lm_weight and model.lm is None:
        raise LstmkitError(f"--lm-weight: the model in {args.model} has no language model "
                           "(it was trained with lm_order=0, or before lstmkit had one)")
    texts = transcribe(model, args.files, beam=args.beam, lm_weight=args.lm_weight)
    for file, text in zip(args.files, texts):
        print(f"{file}\t{text}" if len(args.files) > 1 else text)
    return 0


def _train(args) -> int:
    from ..tasks.transcribe import TranscribeConfig, save
    from ..tasks.transcribe_train import evaluate, featurize_items, split, train

    _check_decoding(args)
    items = _training_items(args)
    check_ints(args, "synthetic", minimum=0)
    check_ints(args, "epochs", "hidden", "layers")
    recipe = ("epochs", "hidden", "layers", "synthetic", "beam", "lm_weight")
    chosen = {k: getattr(args, k) for k in recipe if getattr(args, k) is not None}
    config = TranscribeConfig(seed=args.seed, **chosen)
    train_items, test_items = split(items, config.test_fraction, config.seed)
    if not train_items or not test_items:
        raise LstmkitError(f"data: {len(items)} utterance(s) are too few to hold some out")
    start = time.time()
    model, _ = train(train_items, config, verbose=0 if args.quiet else 1)
    seconds = time.time() - start
    log_probs = model.log_probs(featurize_items(test_items, config))  # the network runs once
    result = evaluate(model, test_items, log_probs=log_probs)
    groups = [g for g in ("all", "words", "sentences") if g in result]
    fused = model.lm is not None and config.beam > 1 and config.lm_weight > 0
    metrics = {"lstm": {**result["all"], "beam": config.beam, "lm_weight": config.lm_weight if fused else 0.0,
                        "train_seconds": round(seconds, 1), **{g: result[g] for g in groups[1:]}}}
    plain = None
    if fused:
        plain = evaluate(model, test_items, lm_weight=0.0, log_probs=log_probs)  # what the LM adds
        metrics["lstm_no_lm"] = {**plain["all"], **{g: plain[g] for g in groups[1:]}}
    out = Path(args.out or "runs/transcribe")
    save(model, out / "model", metrics)
    _write_json(out / "metrics.json", metrics)
    for name in groups:
        r = result[name]
        without = f"  (without the LM: CER {plain[name]['cer']:.3f})" if plain else ""
        print(f"held-out {name:<9} n={r['n']:<4} CER {r['cer']:.3f}  WER {r['wer']:.3f}{without}")
    print(f"model: {out / 'model'}  metrics: {out / 'metrics.json'}  ({seconds:.0f}s training)")
    return 0


def _check_decoding(args) -> None:
    check_ints(args, "beam")
    if args.lm_weight is not None and not args.lm_weight >= 0:
        raise LstmkitError(f"--lm-weight: expected a number >= 0, got {args.lm_weight}")


def _training_items(args):
    """The Asterisk prompts, or --data with --transcripts (texts normalised)."""
    from ..data.speech_datasets import Utterance, load_asterisk, load_folder, normalize_text

    if args.asterisk == bool(args.data or args.transcripts) or (args.data and not args.transcripts):
        raise LstmkitError("train: expected either --asterisk or both --data DIR and "
                           "--transcripts FILE")
    if args.asterisk:
        return load_asterisk()
    return [Utterance(u.id, u.path, normalize_text(u.text))
            for u in load_folder(args.data, args.transcripts)]


def _digits(args) -> int:
    from ..tasks.transcribe_digits import DigitsConfig, train_digits

    config = DigitsConfig(seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    result = train_digits(config, verbose=0 if args.quiet else 1)
    out = Path(args.out or "runs/digits")
    metrics = {"lstm": {"accuracy": result["accuracy"], "n": result["n"],
                        "train_seconds": round(result["seconds"], 1)}}
    _write_json(out / "metrics.json", metrics)
    print(f"FSDD held-out accuracy {result['accuracy']:.3f} (n={result['n']}, "
          f"{result['seconds']:.0f}s training)  metrics: {out / 'metrics.json'}")
    return 0


def _write_json(path: Path, data) -> None:
    """Write atomically: a crash never leaves half a metrics file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)

