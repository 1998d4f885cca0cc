"""The schema of a Keras-style model's config.json: types, ranges and bounded sizes, checked before
any layer is made, so a damaged or hostile file gives one line naming the field.

Sizes are bounded generously (a hidden size of 65,536, a vocabulary of 2**24); the real bound on
memory is the weights file: `load_model` builds the model on the meta device and compares its
tensors with the file's header before any weight exists.
"""
import inspect
import math

from ..errors import ModelFileError
from ..layers import LAYERS

MAX_UNITS = 1 << 16
MAX_VOCAB = 1 << 24
MAX_DIM = 1 << 20  # one axis of an input shape
MAX_INPUT_ELEMENTS = 1 << 24  # one sample of a recorded input, built with a dry forward pass
MAX_LAYERS = 4096
MAX_NAME = 256


def _int(lo, hi):
    def check(v, where):
        if type(v) is not int or not lo <= v <= hi:
            _fail(where, f"an integer in [{lo}, {hi}]", v)
    return check


def _rate(v, where):
    if type(v) not in (int, float) or not 0 <= v < 1:
        _fail(where, "a number in [0, 1)", v)


def _number(v, where):
    if type(v) not in (int, float) or not math.isfinite(v):
        _fail(where, "a finite number", v)


def _bool(v, where):
    if type(v) is not bool:
        _fail(where, "true or false", v)


def _text(v, where):
    if not isinstance(v, str) or len(v) > MAX_NAME:
        _fail(where, f"a string of at most {MAX_NAME} characters", v)


def _optional_text(v, where):
    if v is not None:
        _text(v, where)


def shape(v, where, allow_none=True):
    """An input shape without the batch axis: at most 8 sizes in [1, MAX_DIM] (None: any)."""
    if not isinstance(v, list) or len(v) > 8:
        _fail(where, "a list of at most 8 sizes", v)
    for k, d in enumerate(v):
        if not (allow_none and d is None):
            _int(1, MAX_DIM)(d, f"{where}[{k}]")


def _initializer(v, where):
    """A Keras initializer: its name, or {"class_name": name, "config": {...}} as get_config writes one."""
    if isinstance(v, dict):
        keys = {"class_name", "config", "module", "registered_name"}
        if set(v) - keys or not isinstance(v.get("config"), dict):
            _fail(where, "an initializer name or {'class_name', 'config'}", v)
        _text(v.get("class_name"), f"{where}.class_name")
        for key, value in v["config"].items():
            at = f"{where}.config.{str(key)[:40]}"
            if isinstance(value, str):
                _text(value, at)
            elif not (value is None or type(value) in (bool, int, list) or type(value) is float
                      and math.isfinite(value)):
                _fail(at, "a finite number, string, boolean, list or null", value)
    else:
        _text(v, where)


def _optional_shape(v, where):
    if v is not None:
        shape(v, where)


FIELDS = {  # by argument name, shared by the layers that take it
    "units": _int(1, MAX_UNITS), "output_dim": _int(1, MAX_UNITS), "input_dim": _int(1, MAX_VOCAB),
    "rate": _rate, "dropout": _rate, "recurrent_dropout": _rate, "mask_value": _number,
    "axis": _int(-8, 8), "input_shape": _optional_shape, "name": _optional_text,
    "activation": _optional_text, "recurrent_activation": _text, "engine": _text, "merge_mode": _optional_text,
    **{k: _initializer for k in ("kernel_initializer", "recurrent_initializer", "bias_initializer",
                                 "embeddings_initializer")},
    **{k: _bool for k in ("use_bias", "unit_forget_bias", "return_sequences", "return_state",
                          "go_backwards", "stateful", "mask_zero", "zero_output_for_mask")},
}


def _fail(where, expected, got):
    shown = repr(got)
    raise ModelFileError(f"{where}: expected {expected}, got "
                         f"{shown if len(shown) <= 60 else shown[:57] + '...'}")


def _object(v, where, keys):
    if not isinstance(v, dict):
        _fail(where, "an object", v)
    for key in keys:
        if key not in v:
            raise ModelFileError(f"{where}: missing field {key!r}")


def layer(spec, where, depth=0):
    """{"class_name": a known layer, "config": its arguments}, each argument checked by name."""
    _object(spec, where, ("class_name", "config"))
    name = spec["class_name"]
    if name in ("Sequential", "Functional"):  # a model used as a layer
        if depth >= 4:
            raise ModelFileError(f"{where}: models nest at most 4 deep")
        (sequential if name == "Sequential" else functional)(spec["config"], f"{where}.config")
        return
    if not isinstance(name, str) or name not in LAYERS:
        _fail(f"{where}.class_name", f"one of {', '.join(LAYERS)}", name)
    config = spec["config"]
    _object(config, f"{where}.config", ())
    allowed = set(inspect.signature(LAYERS[name]).parameters)
    for key, value in config.items():
        at = f"{where}.config.{key[:60]}"
        if key not in allowed:
            raise ModelFileError(f"{at}: {name} has no argument {key[:60]!r}")
        if key in ("layer", "backward_layer") and isinstance(value, dict):
            if depth >= 2:
                raise ModelFileError(f"{at}: wrappers nest at most 2 deep")
            layer(value, at, depth + 1)
        elif key in FIELDS:
            FIELDS[key](value, at)
        elif type(value) is float:
            _number(value, at)
        elif isinstance(value, str):
            _text(value, at)
        elif not (value is None or type(value) in (bool, int, list, dict)):
            _fail(at, "a number, string, boolean, list, object or null", value)


def _layers(v, where):
    if not isinstance(v, list) or len(v) > MAX_LAYERS:
        _fail(where, f"a list of at most {MAX_LAYERS} layers", v)
    for k, spec in enumerate(v):
        layer(spec, f"{where}[{k}]")


def sequential(config, where):
    _object(config, where, ("layers",))
    _optional_text(config.get("name"), f"{where}.name")
    _optional_shape(config.get("input_shape"), f"{where}.input_shape")
    _layers(config["layers"], f"{where}.layers")


def functional(config, where):
    """Inputs, layers, nodes and outputs as `Functional.get_config` writes them; every reference
    (`{"ref": [kind, k, output index]}`) points at an input or an earlier node."""
    _object(config, where, ("inputs", "layers", "nodes", "outputs"))
    _optional_text(config.get("name"), f"{where}.name")
    inputs, nodes = config["inputs"], config["nodes"]
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= 64:
        _fail(f"{where}.inputs", "a list of 1 to 64 inputs", inputs)
    for k, spec in enumerate(inputs):
        _object(spec, f"{where}.inputs[{k}]", ("shape", "dtype"))
        shape(spec["shape"], f"{where}.inputs[{k}].shape")
        _text(spec["dtype"], f"{where}.inputs[{k}].dtype")
        _optional_text(spec.get("name"), f"{where}.inputs[{k}].name")
        if spec.get("batch_size") is not None:
            _int(1, MAX_DIM)(spec["batch_size"], f"{where}.inputs[{k}].batch_size")
    _layers(config["layers"], f"{where}.layers")
    if not isinstance(nodes, list) or len(nodes) > MAX_LAYERS:
        _fail(f"{where}.nodes", f"a list of at most {MAX_LAYERS} nodes", nodes)
    for j, node in enumerate(nodes):
        at = f"{where}.nodes[{j}]"
        _object(node, at, ("layer", "args", "kwargs"))
        _int(0, len(config["layers"]) - 1)(node["layer"], f"{at}.layer")
        _structure(node["args"], f"{at}.args", len(inputs), j)
        _structure(node["kwargs"], f"{at}.kwargs", len(inputs), j)
    _structure(config["outputs"], f"{where}.outputs", len(inputs), len(nodes))


def _structure(v, where, n_inputs, n_nodes):
    """An encoded argument structure (lists, {"dict": ...}, {"value": ...}, {"ref": ...})."""
    stack = [(v, where)]
    while stack:  # no recursion: the JSON reader already bounds the nesting
        v, at = stack.pop()
        if isinstance(v, list):
            stack.extend((x, f"{at}[{k}]") for k, x in enumerate(v))
        elif isinstance(v, dict) and len(v) == 1 and "ref" in v:
            _reference(v["ref"], f"{at}.ref", n_inputs, n_nodes)
        elif isinstance(v, dict) and len(v) == 1 and "dict" in v and isinstance(v["dict"], dict):
            stack.extend((x, f"{at}.{str(k)[:40]}") for k, x in v["dict"].items())
        elif not (isinstance(v, dict) and len(v) == 1 and "value" in v):
            _fail(at, "a list, or an object with one of 'ref', 'dict', 'value'", v)


def _reference(ref, where, n_inputs, n_nodes):
    """[kind, k] or [kind, k, output index]: an input, or a node earlier than the one that refers to it."""
    if not (isinstance(ref, list) and len(ref) in (2, 3) and ref[0] in ("input", "node")):
        _fail(where, "['input', k, i] or ['node', j, i]", ref)
    if (n_inputs if ref[0] == "input" else n_nodes) < 1:
        _fail(where, f"a reference to an earlier {ref[0]}", ref)
    _int(0, (n_inputs if ref[0] == "input" else n_nodes) - 1)(ref[1], f"{where}[1]")
    if len(ref) == 3:
        _int(0, 64)(ref[2], f"{where}[2]")


def input_specs(specs, where):
    """The input shapes recorded when the model was built: [[shape], dtype] each, bounded in size."""
    if specs is None:
        return
    if not isinstance(specs, list) or not 1 <= len(specs) <= 64:
        _fail(where, "a list of 1 to 64 [shape, dtype] pairs", specs)
    for k, spec in enumerate(specs):
        if not isinstance(spec, list) or len(spec) != 2:
            _fail(f"{where}[{k}]", "a [shape, dtype] pair", spec)
        shape(spec[0], f"{where}[{k}][0]", allow_none=False)
        if math.prod(spec[0]) > MAX_INPUT_ELEMENTS:
            _fail(f"{where}[{k}][0]", f"at most {MAX_INPUT_ELEMENTS} elements", spec[0])
        if spec[1] not in ("float32", "float64", "float16", "bfloat16", "int64", "int32"):
            _fail(f"{where}[{k}][1]", "a float or integer dtype name", spec[1])


def compile_spec(spec, where):
    """{"optimizer": name, "loss": name, "metrics": [names]} (the names are checked by compile)."""
    if spec is None:
        return
    _object(spec, where, ("optimizer", "loss"))
    _text(spec["optimizer"], f"{where}.optimizer")
    _text(spec["loss"], f"{where}.loss")
    metrics = spec.get("metrics", [])
    if not isinstance(metrics, list) or len(metrics) > 64:
        _fail(f"{where}.metrics", "a list of metric names", metrics)
    for k, m in enumerate(metrics):
        _text(m, f"{where}.metrics[{k}]")
    if set(spec) - {"optimizer", "loss", "metrics"}:
        raise ModelFileError(f"{where}: unknown fields {sorted(set(spec) - {'optimizer', 'loss', 'metrics'})[:5]}")


def model(spec, where, classes):
    """The "model" entry of config.json: class, architecture, compile settings, recorded inputs."""
    _object(spec, where, ("class_name", "config"))
    if not isinstance(spec["class_name"], str) or spec["class_name"] not in classes:
        _fail(f"{where}.class_name", f"one of {', '.join(classes)}", spec["class_name"])
    if spec["class_name"] == "Sequential":
        sequential(spec["config"], f"{where}.config")
    elif spec["class_name"] == "Functional":
        functional(spec["config"], f"{where}.config")
    else:
        _object(spec["config"], f"{where}.config", ())  # a custom_objects class checks its own config
    compile_spec(spec.get("compile"), f"{where}.compile")
    input_specs(spec.get("inputs"), f"{where}.inputs")
