"""What the task commands share: the run flags, the one-line progress, the metrics file, the
checks of the run directory and the backup that `--resume` continues from."""
import argparse
import json
import os
import shutil
import time
from pathlib import Path

from ..errors import LstmkitError
from ..saving import atomic_write_json
from .checks import check_run_dir, input_paths

# Tasks whose training restores a BackupAndRestore backup (their networks train through Model.fit).
RESUMABLE = ("forecast", "classify", "digits", "translate", "transcribe")


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
    train.add_argument("--resume", action="store_true", help="back up the training state in DIR/backup/ "
                       "after every epoch, and continue from there if an earlier run was interrupted")
    for p in (train, predict):
        p.add_argument("--quiet", action="store_true", help="no progress output")
    predict.add_argument("--model", required=True, metavar="DIR",
                         help="a run directory written by train, or its model/ directory")
    predict.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                         help="onnx: run the graphs `lstmkit export --model DIR` wrote, in onnxruntime")
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
    """The task's contract run by a command: the run directory checked, `task.train` (resumable with
    --resume), `task.evaluate` (with the LSTM's training seconds), then OUT/model and
    OUT/metrics.json (with `extra` entries). Returns (predictor, metrics)."""
    out = check_run_dir(out, input_paths(args))
    backup = run_backup(args, out, task.__name__.rsplit(".", 1)[-1], config)
    start = time.perf_counter()
    predictor = task.train(data, config, verbose=0 if args.quiet else verbose, callbacks=backup_callbacks(backup))
    seconds = time.perf_counter() - start
    metrics = task.evaluate(predictor, data)
    metrics["lstm"]["train_seconds"] = round(seconds, 1)
    write_run(out, predictor, {**metrics, **(extra or {})})
    drop_backup(backup)
    return predictor, metrics


def run_backup(args, out: Path, task: str, config) -> Path | None:
    """OUT/backup for a run with --resume (None without), checked against the run it continues.

    The settings of the run are kept in OUT/backup/run.json: a backup is continued only by a run
    with the same task, data and config. Without --resume an existing backup is refused rather than
    overwritten, so an interrupted run is never lost by a plain rerun.
    """
    directory = out / "backup"
    if not args.resume:
        if directory.exists():
            raise LstmkitError(f"--out: {directory} holds the backup of an interrupted run; add --resume "
                               "to continue it, or delete that directory to start afresh")
        return None
    if task not in RESUMABLE:
        raise LstmkitError(f"--resume: {task} training cannot continue from a backup yet; run without --resume")
    settings = json.loads(json.dumps({"task": task, "data": sorted(map(str, input_paths(args).values())),
                                      "dataset": vars(args).get("dataset"), "config": config.to_dict()},
                                     default=str))
    saved = directory / "run.json"
    if saved.is_file():
        before = json.loads(saved.read_text(encoding="utf-8"))
        changed = sorted(k for k in {**before.get("config", {}), **settings["config"]}
                         if before.get("config", {}).get(k) != settings["config"].get(k))
        if changed or {k: v for k, v in before.items() if k != "config"} != \
                {k: v for k, v in settings.items() if k != "config"}:
            what = f"settings {', '.join(changed)}" if changed else "data"
            raise LstmkitError(f"--resume: the backup in {directory} is of a run with other {what}; "
                               "continue it with the same flags, or delete it to start afresh")
    else:
        atomic_write_json(saved, settings)
    return directory


def backup_callbacks(backup: Path | None) -> list:
    """[BackupAndRestore(backup)] (kept when training ends: the run directory is not written yet)."""
    from ..models.backup import BackupAndRestore

    return [BackupAndRestore(backup, delete_checkpoint=False)] if backup else []


def drop_backup(backup: Path | None) -> None:
    """Remove OUT/backup once the run directory is written: renamed first, so that a kill part-way
    leaves no half-deleted backup for a later --resume to trip on."""
    if backup is None or not backup.is_dir():
        return
    doomed = backup.with_name(f".{backup.name}.{os.getpid()}.deleted")
    os.rename(backup, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
