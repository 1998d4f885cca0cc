"""Layers to and from their configs, {"class_name": ..., "config": {...}}, as Keras'
`layers.serialize` / `layers.deserialize` do (lstmkit's own config keys; see
`lstmkit.models.keras_config` for Keras' files)."""
from ..errors import LstmkitError


def serialize(layer) -> dict:
    """{"class_name": ..., "config": layer.get_config()} for an lstmkit layer.

    Example:
        >>> from lstmkit.layers import Dense
        >>> serialize(Dense(2))["class_name"]
        'Dense'
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec, custom_objects=None):
    """A layer from {"class_name": ..., "config": {...}} as `serialize` writes it; a wrapped
    layer ("layer" in the config, e.g. Bidirectional) is rebuilt first.

    Args:
        spec: the layer's description.
        custom_objects: {class name: class} for layers that are not lstmkit's.

    Raises:
        LstmkitError: an unknown class name (the message lists the known ones).
    """
    from . import LAYERS  # the registry is complete once the layers package is imported

    known = {**LAYERS, **(custom_objects or {})}
    name = spec.get("class_name") if isinstance(spec, dict) else None
    if name not in known:
        raise LstmkitError(f"layer: unknown layer class {name!r}; known: {', '.join(known)}")
    config = dict(spec.get("config") or {})
    if isinstance(config.get("layer"), dict):
        config["layer"] = deserialize(config["layer"], custom_objects)
    cls = known[name]
    return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)  # models: from_config
