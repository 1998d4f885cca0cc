"""Declarative checks for what a task's model directory holds, so that a damaged or hostile
config.json or preprocessing.json gives one line naming the file and the field before anything is
built from it.

A spec is a function `spec(value, where)` that raises `ModelFileError` ("where: expected ..., got
...") or returns; the helpers below build them, and `fields` checks an object field by field. Each
task declares its specs once, next to its Config (`Config.SCHEMA`) and Predictor (`META`,
`PREPROCESSING`); `Predictor.load` applies them. Sizes are bounded so that the networks the
fields describe multiply out to a bounded number of parameters; the weights file, compared with a
network built on the meta device, bounds the real allocation.

Example:
    >>> spec = fields({"hidden_size": integer(1, 64), "tokens": items(text(), distinct=True)})
    >>> spec({"hidden_size": 8, "tokens": ["a", "b"]}, "config")
    >>> spec({"hidden_size": 0}, "config")
    Traceback (most recent call last):
    ...
    lstmkit.errors.ModelFileError: config.hidden_size: expected an integer in [1, 64], got 0
"""
import math

from ..errors import ModelFileError
from ..models.schema import MAX_UNITS, MAX_VOCAB, _fail

__all__ = ["MAX_UNITS", "MAX_VOCAB", "MAX_MEMBERS", "MAX_LAYERS", "MAX_INT", "integer", "number",
           "boolean", "text", "any_of", "choice", "optional", "items", "mapping", "fields", "agree",
           "SEED", "RATE", "FRACTION", "POSITIVE", "COUNT"]

MAX_MEMBERS = 64  # networks in one directory (an ensemble): each is built before the weights are read
MAX_LAYERS = 16
MAX_INT = 1 << 53  # counts and sizes beyond this are not exact as JSON numbers
MAX_ITEMS = 1 << 24


def integer(lo=0, hi=MAX_INT):
    """An int (not a bool) in [lo, hi]."""
    def check(v, where):
        if type(v) is not int or not lo <= v <= hi:
            _fail(where, f"an integer in [{lo}, {hi}]", v)
    return check


def number(lo=-math.inf, hi=math.inf, *, open_lo=False, open_hi=False):
    """A finite int or float (not a bool) in [lo, hi]; `open_lo`/`open_hi` exclude the end."""
    def check(v, where):
        ok = type(v) in (int, float) and math.isfinite(v) and (lo < v if open_lo else lo <= v) \
            and (v < hi if open_hi else v <= hi)
        if not ok:
            _fail(where, f"a finite number in {'(' if open_lo else '['}{lo}, {hi}"
                         f"{')' if open_hi or hi == math.inf else ']'}", v)
    return check


def boolean(v, where):
    if type(v) is not bool:
        _fail(where, "true or false", v)


def text(max_len=256, min_len=0):
    """A string of min_len to max_len characters."""
    def check(v, where):
        if not isinstance(v, str) or not min_len <= len(v) <= max_len:
            _fail(where, f"a string of {min_len} to {max_len} characters", v)
    return check


def any_of(*specs, expected):
    """What one of `specs` accepts (`expected` says what, in the error)."""
    def check(v, where):
        for spec in specs:
            try:
                return spec(v, where)
            except ModelFileError:
                pass
        _fail(where, expected, v)
    return check


def choice(*values):
    """One of `values` (compared by type too: True is not 1)."""
    def check(v, where):
        if not any(type(v) is type(c) and v == c for c in values):
            _fail(where, f"one of {values}", v)
    return check


def optional(spec):
    """None, or what `spec` accepts."""
    def check(v, where):
        if v is not None:
            spec(v, where)
    return check


def items(spec, *, min_len=0, max_len=MAX_ITEMS, distinct=False):
    """A list of min_len to max_len values, each accepted by `spec` (and all different)."""
    def check(v, where):
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            _fail(where, f"a list of {min_len} to {max_len} items", v)
        for k, x in enumerate(v):
            spec(x, f"{where}[{k}]")
        if distinct and len(set(v)) != len(v):
            _fail(where, "distinct items", v)
    return check


def mapping(value, *, key=text(), max_len=MAX_ITEMS):
    """An object of at most max_len entries, keys accepted by `key` and values by `value`."""
    def check(v, where):
        if not isinstance(v, dict) or len(v) > max_len:
            _fail(where, f"an object of at most {max_len} entries", v)
        for k, x in v.items():
            at = _at(where, k[:40])
            key(k, at)
            value(x, at)
    return check


def fields(specs: dict, *, required=()):
    """An object whose fields named in `specs` are checked when present (others are left for a
    newer patch release); those in `required` must be present."""
    def check(v, where):
        if not isinstance(v, dict):
            _fail(where.rstrip(":"), "an object", v)
        for name in required:
            if name not in v:
                raise ModelFileError(f"{where.rstrip(':')}: missing field {name!r}")
        for name, spec in specs.items():
            if name in v:
                spec(v[name], _at(where, name))
    return check


def agree(where, got, want, because):
    """`got` must equal `want`, which `because` explains (the file and field it follows from)."""
    if got != want:
        _fail(where, f"{_short(want)} ({because})", got)


def _short(v):
    shown = repr(v)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _at(where, name):
    """`where.name`, or `where name` after a file's "...json:"."""
    return f"{where} {name}" if where.endswith(":") else f"{where}.{name}"


# the specs most config fields share
SEED = integer(0, MAX_INT)
RATE = number(0, 1, open_hi=True)  # a dropout probability
FRACTION = number(0, 1, open_lo=True, open_hi=True)
POSITIVE = number(0, open_lo=True)  # learning rates, time limits
COUNT = integer(1, MAX_INT)  # epochs, batch sizes
