"""`lstmkit`: one subcommand per task. Each lives in `lstmkit.cli.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int` as the default: a task's
`train` and `predict` run `handle_train` and `handle_predict`; bench and inspect run `handle`."""
import argparse
import importlib
import sys
import warnings

from ..errors import DataWarning, LstmkitError
from .checks import validate

SUBCOMMANDS = ("inspect", "bench", "forecast", "classify", "translate", "transcribe", "serve", "export")

TASKS = ("forecast", "classify", "translate", "transcribe")

EPILOG = """examples:
  lstmkit forecast train                    # AirPassengers: train, backtest, compare with baselines
  lstmkit forecast train --data sales.csv --target units --time-col date --horizon 12 --out runs/sales
  lstmkit forecast predict --model runs/sales --data sales_2025.csv
  lstmkit classify train --data reviews.tsv --text-col text --label-col label
  lstmkit translate train --gettext fr --epochs 10
  lstmkit transcribe train --asterisk
  lstmkit bench                             # kernel timings next to torch.nn.LSTM
every task: lstmkit TASK train ... writes runs/TASK-DATA/ (model/, metrics.json, plots);
            lstmkit TASK predict --model RUN_DIR ...
"""


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line (the usage itself is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lstmkit", description="LSTM networks: forecasting, text classification, translation, "
        "speech recognition, and the kernels underneath.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    import lstmkit
    parser.add_argument("--version", action="version", version=f"lstmkit {lstmkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"lstmkit.cli.{name}").register(sub)
    return parser


def current_spelling(argv: list[str]) -> tuple[list[str], str | None]:
    """Today's command line for one in an earlier release's spelling, and a note saying so (or None).

    Earlier spellings: `lstmkit forecast [--model DIR] ...` (no action word), `lstmkit translate
    --model DIR ...` and `lstmkit transcribe --model DIR ...` (predict without the word), and
    `lstmkit transcribe digits` (now `transcribe train --fsdd`).
    """
    if len(argv) < 1 or argv[0] not in TASKS or argv[1:2] in (["train"], ["predict"], ["-h"], ["--help"]):
        return argv, None
    task, rest = argv[0], argv[1:]
    if task == "transcribe" and rest[:1] == ["digits"]:
        new = [task, "train", "--fsdd", *rest[1:]]
    elif "--model" in rest or any(a.startswith("--model=") for a in rest):
        new = [task, "predict", *rest]
    elif task == "forecast":
        new = [task, "train", *rest]
    else:
        return argv, None
    words = 3 if new[2:3] == ["--fsdd"] else 2
    return new, (f"note: `lstmkit {' '.join(argv[:2])} ...` is spelled `lstmkit {' '.join(new[:words])} ...` now; "
                 "the old spelling goes away in the next release")


def main(argv=None) -> int:
    parser = build_parser()
    argv, note = current_spelling(list(sys.argv[1:] if argv is None else argv))
    if note:
        print(note, file=sys.stderr)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DataWarning)
            warnings.showwarning = lambda message, category, *_: _show(args, message, category)
            validate(args)  # every value, before any work starts
            return int(args.func(args) or 0)
    except (LstmkitError, ValueError) as e:  # a user's input; LstmkitError is a ValueError
        print(f"lstmkit {args.command}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine refused a read or write (permissions, a full disk)
        where = f": {e.filename}" if e.filename else ""
        print(f"lstmkit {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _show(args, message, category) -> None:
    """A warning as one line on stderr (a DataWarning lists the entries a reader skipped)."""
    kind = "" if issubclass(category, DataWarning) else f"{category.__name__}: "
    print(f"lstmkit {args.command}: warning: {kind}{' '.join(str(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
