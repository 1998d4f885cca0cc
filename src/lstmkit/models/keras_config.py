"""Keras' model and layer configs (Keras 3's `.keras` config.json, tf.keras 2's `.h5` model_config)
to lstmkit models, and lstmkit models to Keras 3's config.

Only data is read: a layer is looked up by class name among lstmkit's layers and built from the
config's values. A layer that would need code to load (Lambda, a custom or registered class) is
refused, as Keras' `safe_mode` refuses Lambda. Keras keys that lstmkit's layers do not take are
dropped (initializers, regularizers and constraints: the weights come from the file; `trainable`,
`dtype`, `seed`, ...).
"""
import inspect
import re

from ..errors import ModelFileError
from ..layers import LAYERS, INITIALIZERS, Input
from . import registry

CODE_LAYERS = ("Lambda", "TFOpLambda", "SlicingOpLambda")
RNN_LAYERS = ("LSTM", "Bidirectional", "GRU", "SimpleRNN")
DROPPED = ("input_shape", "engine")
# Keras 3 records the ops that compute masks (Embedding(mask_zero=True) -> NotEqual) as graph nodes;
# lstmkit's layers compute and pass masks themselves, so these nodes are skipped
MASK_OPS = ("NotEqual", "Equal", "Any", "All", "Cast", "LogicalAnd", "LogicalOr", "LogicalNot")  # lstmkit-only keys, never written to Keras' config


def snake(name: str) -> str:
    """'GlorotUniform' -> 'glorot_uniform', 'TimeDistributed' -> 'time_distributed' (Keras' rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---- Keras -> lstmkit ------------------------------------------------------------------------

def layer_from_keras(spec, custom_objects=None):
    """An lstmkit layer (or nested model) from one Keras layer entry {"class_name", "config", ...}."""
    name = spec.get("class_name") if isinstance(spec, dict) else None
    config = dict(spec.get("config") or {}) if isinstance(spec, dict) else {}
    if name in CODE_LAYERS or (isinstance(spec, dict) and spec.get("registered_name") not in (None, name)):
        raise ModelFileError(f"model: layer {config.get('name', name)!r} ({name}) needs Python code to "
                             "load; lstmkit never runs code from a model file (as Keras' safe_mode)")
    if name in ("Functional", "Model", "Sequential"):
        return model_from_keras(spec, custom_objects)
    classes = {**LAYERS, **(custom_objects or {})}
    if name not in classes:
        raise ModelFileError(f"model: layer class {name!r} is not one lstmkit has; known: "
                             f"{', '.join(classes)}")
    cls = classes[name]
    accepted = inspect.signature(cls.__init__).parameters
    args = {k: _value(k, v, custom_objects) for k, v in config.items()
            if k in accepted and k not in DROPPED and (v is not None or k in KEPT_NONE)}
    args = {k: v for k, v in args.items() if v is not _DROP}
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"model: cannot build layer {config.get('name')!r} ({name}) from its "
                             f"Keras config ({e})") from None


_DROP = object()
# None is a value of its own for these (Bidirectional: a list [forward, backward]), not "the default"
KEPT_NONE = ("merge_mode",)


def _value(key, value, custom_objects):
    if key == "layer":
        return layer_from_keras(value, custom_objects)
    if isinstance(value, dict) and "class_name" in value:  # an initializer, regularizer, ...
        short = snake(value["class_name"])
        return short if key.endswith("initializer") and short in INITIALIZERS else _DROP
    if isinstance(value, str) and key.endswith("initializer") and value not in INITIALIZERS:
        return _DROP
    return value


def model_from_keras(spec, custom_objects=None):
    """A Sequential or functional lstmkit model from a Keras model config."""
    name, config = spec.get("class_name"), spec.get("config") or {}
    try:
        if name == "Sequential":
            return _sequential(config, custom_objects)
        if name in ("Functional", "Model"):
            return _functional(config, custom_objects)
    except (KeyError, IndexError, TypeError) as e:
        raise ModelFileError(f"model: the Keras config is damaged or of an unknown version ({e!r})") from None
    raise ModelFileError(f"model: class {name!r} is a subclassed Keras model, which needs its Python "
                         "code; lstmkit loads Sequential and functional models")


def _input(config, name=None):
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if isinstance(shape, dict):  # tf.keras' TensorShape object
        shape = shape.get("items")
    dtype = config.get("dtype") if isinstance(config.get("dtype"), str) else "float32"
    return Input(batch_shape=tuple(shape), dtype=dtype, name=name or config.get("name"))


def _sequential(config, custom_objects):
    layers = list(config["layers"])
    model = registry.MODELS["Sequential"](name=config.get("name", "sequential"))
    if layers and layers[0]["class_name"] == "InputLayer":
        model.add(_input(layers.pop(0)["config"]))
    elif layers and (layers[0]["config"].get("batch_input_shape") or layers[0]["config"].get("batch_shape")):
        model.add(_input(layers[0]["config"], name="input_layer"))
    elif config.get("build_input_shape"):
        model.add(Input(batch_shape=tuple(config["build_input_shape"])))
    for spec in layers:
        model.add(layer_from_keras(spec, custom_objects))
    return model


def _functional(config, custom_objects):
    made, pending, layers, ops = {}, [], {}, []
    for spec in config["layers"]:
        lname = spec.get("name") or spec["config"]["name"]
        if spec["class_name"] == "InputLayer":
            made[(lname, 0)] = _input(spec["config"], lname)
            continue
        if str(spec.get("module", "")).startswith("keras.src.ops") or spec["class_name"] in MASK_OPS:
            ops.append(f"{lname} ({spec['class_name']})")  # e.g. the mask of Embedding(mask_zero=True):
            continue  # lstmkit's layers pass masks along themselves, so the mask kwargs are dropped
        layers[lname] = layer_from_keras(spec, custom_objects)
        pending += [(lname, k, node) for k, node in enumerate(spec.get("inbound_nodes") or [])]
    while pending:  # a node runs once every tensor it takes exists (shared layers come back later)
        ready = [p for p in pending if _resolvable(p[2], made) and (p[1] == 0 or (p[0], p[1] - 1) in made)]
        if not ready:
            raise ModelFileError("model: the Keras config's graph refers to layers it does not define"
                                 + (f" or to Keras ops lstmkit does not load: {', '.join(ops)}" if ops else ""))
        for item in ready:
            lname, k, node = item
            args, kwargs = _node_call(layers[lname], node, made)
            made[(lname, k)] = layers[lname](*args, **kwargs)
            pending.remove(item)

    def outputs(refs):
        if isinstance(refs, dict):
            return {k: _tensor(v, made) for k, v in refs.items()}
        return _tensor(refs, made) if _is_ref(refs) else [_tensor(r, made) for r in refs]
    inputs, outs = outputs(config["input_layers"]), outputs(config["output_layers"])
    one = lambda t: t[0] if isinstance(t, list) and len(t) == 1 else t  # noqa: E731  (as Keras reads them)
    return registry.MODELS["Functional"](one(inputs), one(outs), name=config.get("name", "functional"))


def _is_ref(r):
    return isinstance(r, list) and len(r) >= 3 and isinstance(r[0], str) and isinstance(r[1], int)


def _tensor(ref, made):
    out = made[(ref[0], ref[1])]
    return out[ref[2]] if isinstance(out, list) else out


def _refs(node):
    """Every (layer, node index) a node's arguments refer to, in Keras 3's or tf.keras 2's form."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node["config"]["keras_history"]
            return [(history[0], history[1])]
        return [r for k, v in node.items() if k != "mask" for r in _refs(v)]
    if _is_ref(node):
        return [(node[0], node[1])]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolvable(node, made):
    return all(r in made for r in _refs(node))


def _node_call(layer, node, made):
    """(args, kwargs) for one recorded call; tf.keras 2 lists initial states as extra inputs."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if k not in ("training", "mask")}
        return _decode(node.get("args", []), made), _decode(kwargs, made)
    tensors = [_tensor(entry, made) for entry in node]  # tf.keras 2: [[name, node, index, kwargs], ...]
    if len(tensors) > 1 and type(layer).__name__ in RNN_LAYERS:
        return [tensors[0]], {"initial_state": tensors[1:]}
    return [tensors if len(tensors) > 1 else tensors[0]], {}


def _decode(value, made):
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return _tensor(value["config"]["keras_history"], made)
    if isinstance(value, dict):
        return {k: _decode(v, made) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, made) for v in value]
    return value


# ---- lstmkit -> Keras ------------------------------------------------------------------------

def layer_to_keras(layer, inbound_nodes=None):
    """Keras 3's entry for one lstmkit layer or nested model."""
    if hasattr(layer, "output_names") or type(layer).__name__ == "Sequential":
        entry = model_to_keras(layer)
    else:
        config = {k: v for k, v in layer.get_config().items() if k not in DROPPED}
        if "layer" in config:
            config["layer"] = layer_to_keras(layer.layer if hasattr(layer, "layer") else layer.forward_layer)
        if "activation" in config and config["activation"] is None:
            config["activation"] = "linear"
        entry = {"module": "keras.layers", "class_name": type(layer).__name__,
                 "config": {**config, "trainable": True, "dtype": "float32"}, "registered_name": None}
    entry["name"] = layer.name
    if inbound_nodes is not None:
        entry["inbound_nodes"] = inbound_nodes
    return entry


def model_to_keras(model):
    """Keras 3's config for an lstmkit Sequential or functional model."""
    if type(model).__name__ == "Sequential":
        if model.input_shape is None:
            raise ModelFileError("export_keras: the Sequential model has no input shape yet; give it "
                                 "an Input or call fit/predict first")
        batch_shape = [getattr(model, "batch_size", None), *model.input_shape]
        layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                   "config": {"batch_shape": batch_shape, "dtype": "float32", "name": "input_layer"}}]
        layers += [layer_to_keras(layer) for layer in model.layers]
        return {"module": "keras", "class_name": "Sequential", "registered_name": None,
                "config": {"name": model.name, "trainable": True, "layers": layers,
                           "build_input_shape": batch_shape},
                "build_config": {"input_shape": batch_shape}}
    if not hasattr(model, "nodes"):
        raise ModelFileError(f"export_keras: {type(model).__name__} is not a Sequential or functional "
                             "model; Keras could not rebuild it without its code")
    return _functional_to_keras(model)


def _functional_to_keras(model):
    history, per_layer = {}, {}
    for t, inp in zip(model.inputs, model._input_layers):
        history[id(t)] = [inp.name, 0, 0]
    for node in model.nodes:
        k = len(per_layer.setdefault(id(node.layer), []))
        per_layer[id(node.layer)].append(node)
        for t in node.outputs:
            history[id(t)] = [node.layer.name, k, t.index]

    def enc(v):
        if hasattr(v, "node") and hasattr(v, "shape"):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(v.shape), "dtype": "float32", "keras_history": history[id(v)]}}
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        return v

    layers = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            layers.append({"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                           "name": layer.name, "inbound_nodes": [],
                           "config": {"batch_shape": list(layer.batch_shape), "dtype": layer.output.dtype,
                                      "name": layer.name}})
            continue
        nodes = [{"args": enc(list(n.args)), "kwargs": enc(n.kwargs)} for n in per_layer[id(layer)]]
        layers.append(layer_to_keras(layer, nodes))
    refs = lambda ts: [history[id(t)] for t in ts]  # noqa: E731
    structure = model._structure
    outputs = ({k: history[id(t)] for k, t in structure.items()} if isinstance(structure, dict)
               else refs(structure) if isinstance(structure, (list, tuple)) else history[id(structure)])
    inputs = refs(model.inputs) if isinstance(model.input, list) else history[id(model.inputs[0])]
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": None,
            "config": {"name": model.name, "trainable": True, "layers": layers,
                       "input_layers": inputs, "output_layers": outputs}}
