"""`save_model` / `load_model`: a model directory (config.json + model.safetensors, see
`lstmkit.saving`) holding the architecture, the weights and, when given by name, the compile settings
with the optimizer's state (optimizer.safetensors), so that training resumes where it stopped."""
import math
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors

from .. import saving
from ..errors import LstmkitError, ModelFileError
from ..safefile import read_bytes, safetensors_header
from . import keras_format, registry, schema


def save_model(model, path):
    """Write `model` (a Sequential, or a Model subclass with get_config/from_config) to `path`: a
    `.keras` file in Keras 3's format, an `.h5` file in Keras' legacy layout, or otherwise lstmkit's
    model directory (which alone keeps the optimizer's state).

    Example:
        >>> model.save("airline-model")  # doctest: +SKIP
    """
    if str(path).endswith(".keras"):
        return keras_format.export_keras(model, path)
    if str(path).endswith(".h5"):
        return keras_format.export_h5(model, path)
    config = {"model": {"class_name": type(model).__name__, "config": model.get_config(),
                        "compile": model._compile_config, "inputs": model._input_specs}}
    # the optimizer's state (moments, step counts) travels when load_model can rebuild the optimizer
    resumable = model._compile_config is not None and model.optimizer is not None
    return saving.write_model_dir(path, config, model.state_dict(),
                                  optimizer=model.optimizer.state_dict() if resumable else None)


def load_model(path, custom_objects=None, compile=True):
    """Load a model written by `model.save(path)`; it predicts exactly what the saved one did.

    Nothing is built from config.json before it passes `schema.model`; the model is then built on
    the meta device (no memory) and its tensors compared with the weights file's header, so loading
    allocates no more than the weights' size; the weights must be finite.

    Args:
        path: the model directory.
        custom_objects: {class name: Model subclass} for models other than Sequential.
        compile: re-compile with the saved optimizer, loss and metrics names, and restore the
            optimizer's state when it was saved (a model compiled by name that has trained).

    Raises:
        ModelFileError: one line naming the file and field: the directory is missing, truncated,
            corrupted, inconsistent or not a Keras-style lstmkit model.

    Example:
        >>> model = load_model("airline-model")  # doctest: +SKIP
    """
    if keras_format.is_keras_file(path):  # a .keras zip or a legacy .h5 file, Keras' or lstmkit's
        return keras_format.load_keras(path, custom_objects=custom_objects, compile=compile)
    model_dir = saving.open_model_dir(path)
    file = model_dir.path / saving.CONFIG
    classes = {**registry.MODELS, **(custom_objects or {})}
    spec = model_dir.config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or spec["class_name"] not in classes:
        name = spec.get("class_name") if isinstance(spec, dict) else None
        raise ModelFileError(f"model: {path} does not hold a Keras-style lstmkit model "
                             f"(class {str(name)[:60]!r}; known: {', '.join(classes)})")
    schema.model(spec, f"model: {file}: model", classes)
    with torch.device("meta"):
        probe = _from_spec(spec, classes[spec["class_name"]], file)
    expected = {k: (v.dtype, tuple(v.shape)) for k, v in probe.state_dict().items()}
    state = model_dir.tensors(expected)
    model = _from_spec(spec, classes[spec["class_name"]], file)
    _load_state(model, state, path)
    if compile and spec.get("compile"):
        _compile(model, spec["compile"], file)
        opt_state = model_dir.optimizer_state()
        if opt_state is not None:
            model._prepare_optimizer()
            check_optimizer_state(model.optimizer, opt_state, model_dir.path / saving.OPTIMIZER)
            model.optimizer.load_state_dict(opt_state)
    return model


def _from_spec(spec, cls, file):
    """The model described by a schema-checked spec, built (on the current default device)."""
    try:
        model = cls.from_config(spec["config"])
    except (LstmkitError, KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise ModelFileError(f"model: the architecture in {file} is damaged ({_line(e)})") from None
    if not model.built:
        _build_from_specs(model, spec.get("inputs"), file)
    return model


def _compile(model, spec, file):
    try:
        model.compile(**spec)
    except (LstmkitError, TypeError) as e:
        raise ModelFileError(f"model: {file}: model.compile: {_line(e)}") from None


def _line(e) -> str:
    return " ".join(str(e).split())[:300]


def check_optimizer_state(optimizer, state: dict, file) -> None:
    """A saved optimizer `state_dict()` must fit `optimizer` (built over the loaded model): the same
    parameter groups with values of the same kinds, finite; per parameter, tensors of its shape and
    a 0-d floating `step`, so the first `fit` after loading cannot fail on them.

    Raises:
        ModelFileError: one line naming the file and the field.
    """
    fresh = optimizer.state_dict()["param_groups"]
    groups = state["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh):
        raise ModelFileError(f"model: {file}: param_groups: expected {len(fresh)} group(s) as the "
                             f"optimizer has, got {_short(groups)}")
    for k, (got, want) in enumerate(zip(groups, fresh)):
        _check_group(got, want, f"model: {file}: param_groups[{k}]")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, entry in state["state"].items():
        where = f"model: {file}: state[{index}]"
        if index >= len(params):
            raise ModelFileError(f"{where}: the model has only {len(params)} parameters")
        for name, value in entry.items():
            _check_state_value(value, params[index], name, f"{where}.{name}")


# torch applies hyperparameters to float32 tensors: a larger one fails at the first step
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _check_group(got, want, where):
    if not isinstance(got, dict) or set(got) != set(want):
        raise ModelFileError(f"{where}: expected the fields {sorted(want)}, got {_short(got)}")
    for key, ref in want.items():
        value = got[key]
        if isinstance(ref, bool) or ref is None:
            ok = value is None or isinstance(value, bool)
        elif isinstance(ref, (int, float)):
            ok = (type(value) in (int, float) and abs(value) <= FLOAT32_MAX and (key != "lr" or value >= 0)
                  and (type(value) is float or abs(value) < 2**53))  # torch turns a larger int into a C long
        elif isinstance(ref, (list, tuple)):
            ok = (key == "params" and value == list(ref)) or (
                key != "params" and isinstance(value, list) and len(value) == len(ref)
                and all(type(v) in (int, float) and abs(v) <= FLOAT32_MAX for v in value))
        else:
            ok = isinstance(value, type(ref))
        if not ok:
            raise ModelFileError(f"{where}.{key}: expected a value like {_short(ref)}, got {_short(value)}")


def _check_state_value(value, param, name, where):
    if not torch.is_tensor(value):
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ModelFileError(f"{where}: expected a finite number, got {_short(value)}")
    elif name == "step":
        if value.dim() != 0 or value.dtype not in (torch.float32, torch.float64) or value.item() < 0:
            raise ModelFileError(f"{where}: expected a 0-d float32 count >= 0, got "
                                 f"{str(value.dtype)[6:]} of shape {tuple(value.shape)}")
    elif tuple(value.shape) != tuple(param.shape) or not value.is_floating_point():
        raise ModelFileError(f"{where}: expected a floating tensor of the parameter's shape "
                             f"{tuple(param.shape)}, got {str(value.dtype)[6:]} {tuple(value.shape)}")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def save_weights(model, path):
    """Write only the weights (`state_dict`) to one safetensors file, atomically; any Model can.
    A `*.weights.h5` path gets Keras' layout instead (lstmkit layers only), which Keras reads."""
    if str(path).endswith(".h5"):
        return keras_format.save_weights_h5(model, path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return saving.atomic_write(path, save_safetensors(tensors))


def load_weights(model, path):
    """Load weights written by `save_weights` into a model of the same architecture; the file's
    header is checked against the model before any tensor is made.

    Raises:
        ModelFileError: the file is missing, not a regular file, truncated or foreign, does not
            fit the model, or holds non-finite values.
    """
    if not model.built:
        raise ModelFileError("load_weights: the model is not built yet: give the first layer "
                             "input_shape=..., or call it on one batch first")
    if str(path).endswith(".h5"):
        keras_format.load_weights_h5(model, path)
        return
    path = Path(path)
    data = read_bytes(path, saving.LIMITS.weights)
    header = {k: (saving.TORCH_DTYPES[d], s) for k, (d, s) in safetensors_header(data, path).items()}
    saving.check_tensor_specs(header, {k: (v.dtype, tuple(v.shape)) for k, v in model.state_dict().items()},
                              path)
    _load_state(model, saving._materialise(data, path), path)


def _load_state(model, state, path):
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ModelFileError(f"model: the weights in {path} do not match its config "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise ModelFileError(f"model: weight {k} in {path} has shape {tuple(v.shape)}, "
                                 f"the config needs {tuple(own[k].shape)}")
    try:
        with torch.no_grad():
            model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(f"model: the weights in {path} do not fit the model ({_line(e)})") from None


def _build_from_specs(model, specs, path):
    """Create lazily built weights from the input shapes recorded when the model was built."""
    if not specs:
        raise ModelFileError(f"model: {path}: model.inputs: the model is built from its first batch, "
                             "and no input shape was recorded")
    try:
        xs = tuple(torch.zeros((1, *shape), dtype=getattr(torch, dtype)) for shape, dtype in specs)
        model._build(xs)
    except (LstmkitError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise ModelFileError(f"model: cannot rebuild the model in {path} from its recorded inputs "
                             f"{_short(specs)} ({_line(e)})") from None
