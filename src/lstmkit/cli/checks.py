"""Checks on parsed command-line numbers, shared by the subcommands: one line naming the flag."""
from ..errors import LstmkitError


def check_ints(args, *dests, minimum: int = 1) -> None:
    """Each of args.<dest> that was given must be an int >= `minimum`; else LstmkitError naming its flag.

    Example:
        >>> import argparse
        >>> check_ints(argparse.Namespace(epochs=0), "epochs")
        Traceback (most recent call last):
        lstmkit.errors.LstmkitError: --epochs: expected a positive int, got 0
    """
    for dest in dests:
        value = getattr(args, dest)
        if value is not None and value < minimum:
            want = "a positive int" if minimum == 1 else f"an int >= {minimum}"
            raise LstmkitError(f"--{dest.replace('_', '-')}: expected {want}, got {value}")
