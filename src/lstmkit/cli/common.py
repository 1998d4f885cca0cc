"""What the task commands share: the run flags, the one-line progress, the metrics file."""
import argparse
import time
from pathlib import Path

from ..saving import atomic_write_json


def add_task_parsers(subparsers, task, summary, description, train_example, predict_example):
    """The `lstmkit <task>` parser with its `train` and `predict` subcommands, each showing a worked
    example in --help. Returns (train parser, predict parser)."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(task, help=summary, description=description, formatter_class=raw,
                                   epilog=f"examples:\n{train_example}{predict_example}")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    train = sub.add_parser("train", help="train, evaluate next to the baselines, save", description=description,
                           epilog=f"example:\n{train_example}", formatter_class=raw)
    predict = sub.add_parser("predict", help="predict with a saved model", description=description,
                             epilog=f"example:\n{predict_example}", formatter_class=raw)
    train.add_argument("--seed", type=int, default=0, help="makes the run repeatable (default 0)")
    train.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                       help="bf16: mixed bfloat16 training, float32 weights (default fp32)")
    train.add_argument("--out", metavar="DIR", help=f"run directory: DIR/model, DIR/metrics.json and the "
                       f"plots (default runs/{task}-<data>)")
    for p in (train, predict):
        p.add_argument("--quiet", action="store_true", help="no progress output")
    predict.add_argument("--model", required=True, metavar="DIR",
                         help="a run directory written by train, or its model/ directory")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return train, predict


def say(args, *text) -> None:
    """Print unless --quiet."""
    if not args.quiet:
        print(*text, flush=True)


def write_run(out: Path, predictor, metrics: dict) -> None:
    """OUT/model (the predictor) and OUT/metrics.json."""
    predictor.save(out / "model")
    atomic_write_json(out / "metrics.json", metrics)


def train_and_evaluate(task, data, config, args, out: Path, *, verbose=1, extra=None):
    """The task's contract run by a command: `task.train`, `task.evaluate` (with the LSTM's training
    seconds), then OUT/model and OUT/metrics.json (with `extra` entries). Returns (predictor, metrics)."""
    start = time.perf_counter()
    predictor = task.train(data, config, verbose=0 if args.quiet else verbose)
    seconds = time.perf_counter() - start
    metrics = task.evaluate(predictor, data)
    metrics["lstm"]["train_seconds"] = round(seconds, 1)
    write_run(out, predictor, {**metrics, **(extra or {})})
    return predictor, metrics
