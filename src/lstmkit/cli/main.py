"""`lstmkit`: one subcommand per task. Each lives in `lstmkit.cli.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int` as the default."""
import argparse
import importlib
import sys

from ..errors import LstmkitError

SUBCOMMANDS = ("inspect", "bench", "forecast", "classify", "translate", "transcribe")

EPILOG = """examples:
  lstmkit forecast                          # AirPassengers: train, backtest, compare with baselines
  lstmkit forecast --data sales.csv --target units --time-col date --horizon 12
  lstmkit classify train --data reviews.tsv --text-col text --label-col label
  lstmkit translate train --gettext fr --epochs 10
  lstmkit transcribe train --asterisk
  lstmkit bench                             # kernel timings next to torch.nn.LSTM
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit", description="LSTM networks: forecasting, text classification, translation, "
        "speech recognition, and the kernels underneath.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    import lstmkit
    parser.add_argument("--version", action="version", version=f"lstmkit {lstmkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"lstmkit.cli.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LstmkitError as e:
        print(f"lstmkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
