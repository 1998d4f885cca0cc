"""Running the `lstmkit` command in-process for the bad-input catalogues: exit status, stderr lines."""
import re

from lstmkit.cli.main import main


def run(capsys, *argv):
    """(exit status, stderr lines, stdout) of `lstmkit ARGV`."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def refused(capsys, *argv, match: str) -> str:
    """`lstmkit ARGV` exits with 2 and exactly one stderr line that matches `match`; returns it."""
    code, err, _ = run(capsys, *argv)
    assert code == 2 and len(err) == 1 and re.search(match, err[0]), (code, err)
    assert "Traceback" not in err[0]
    return err[0]


def warned(capsys, *argv, match: str) -> str:
    """`lstmkit ARGV` succeeds with exactly one stderr line, a warning matching `match`; returns stdout."""
    code, err, out = run(capsys, *argv)
    assert code == 0 and len(err) == 1 and "warning:" in err[0] and re.search(match, err[0]), (code, err)
    return out
