"""Model classes by name, so that `load_model` can rebuild a model from its config without the
saving code importing every model module (and so without an import circle)."""

MODELS: dict = {}


def register(cls):
    """Make `cls` loadable by its class name; returns it, so it can decorate a class."""
    MODELS[cls.__name__] = cls
    return cls
