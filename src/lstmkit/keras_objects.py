"""Keras' identifier rules for the small rule objects (regularizers, constraints): one `get` and one
`serialize` shared by `lstmkit.regularizers` and `lstmkit.constraints`."""
from .errors import LstmkitError


def get(identifier, base, names, arg, expected):
    """None, a name in `names`, a {'class_name', 'config'} dict, a `base` instance or a plain callable.

    Raises:
        LstmkitError: naming `arg` and what was `expected`.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str) and identifier in names:
        return names[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in names:
        return names[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier) and not isinstance(identifier, (type, str, dict)):
        return identifier
    raise LstmkitError(f"{arg}: expected {expected}, got {identifier!r}")


def serialize(obj, base, kind):
    """None or Keras' {'class_name', 'config'} dict; a plain callable cannot be written."""
    if obj is None:
        return None
    if isinstance(obj, base):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    raise LstmkitError(f"{kind}: {obj!r} is a plain callable and cannot be written to a config")
