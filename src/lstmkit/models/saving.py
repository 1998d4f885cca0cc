"""`save_model` / `load_model`: a model directory (config.json + model.safetensors, see
`lstmkit.saving`) holding the architecture, the weights and, when given by name, the compile settings
with the optimizer's state (optimizer.safetensors), so that training resumes where it stopped."""
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import saving
from ..errors import LstmkitError, ModelFileError
from . import keras_format, registry


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

    Args:
        path: the model directory.
        custom_objects: {class name: Model subclass} for models other than Sequential.
        compile: re-compile with the saved optimizer, loss and metrics names, and restore the
            optimizer's state when it was saved (a model compiled by name that has trained).

    Raises:
        ModelFileError: the directory is missing, truncated, corrupted or not a Keras-style lstmkit model.
    """
    if keras_format.is_keras_file(path):  # a .keras zip or a legacy .h5 file, Keras' or lstmkit's
        return keras_format.load_keras(path, custom_objects=custom_objects, compile=compile)
    config, state, _ = saving.read_model_dir(path)
    spec = config.get("model")
    classes = {**registry.MODELS, **(custom_objects or {})}
    if not isinstance(spec, dict) or spec.get("class_name") not in classes:
        name = spec.get("class_name") if isinstance(spec, dict) else None
        raise ModelFileError(f"model: {path} does not hold a Keras-style lstmkit model "
                             f"(class {name!r}; known: {', '.join(classes)})")
    try:
        model = classes[spec["class_name"]].from_config(spec["config"])
    except (LstmkitError, KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"model: the architecture in {path}/config.json is damaged ({e})") from None
    if not model.built:
        _build_from_specs(model, spec.get("inputs"), path)
    _load_state(model, state, path)
    if compile and spec.get("compile"):
        model.compile(**spec["compile"])
        opt_state = saving.read_optimizer_state(path, config)
        if opt_state is not None:
            model._prepare_optimizer()
            try:
                model.optimizer.load_state_dict(opt_state)
            except (ValueError, KeyError, RuntimeError) as e:
                raise ModelFileError(f"model: the optimizer state in {path} does not fit the model ({e})") from None
    return model


def save_weights(model, path):
    """Write only the weights (`state_dict`) to one safetensors file, atomically; any Model can.
    A `*.weights.h5` path gets Keras' layout instead (lstmkit layers only), which Keras reads."""
    if str(path).endswith(".h5"):
        return keras_format.save_weights_h5(model, path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_weights(model, path):
    """Load weights written by `save_weights` into a model of the same architecture.

    Raises:
        ModelFileError: the file is missing, truncated or foreign, or does not fit the model.
    """
    if not model.built:
        raise ModelFileError("load_weights: the model is not built yet: give the first layer "
                             "input_shape=..., or call it on one batch first")
    if str(path).endswith(".h5"):
        keras_format.load_weights_h5(model, path)
        return
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFileError(f"load_weights: {path} is missing, truncated or not a safetensors "
                             f"file ({e})") from None
    _load_state(model, state, path)


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
    with torch.no_grad():
        model.load_state_dict(state)


def _build_from_specs(model, specs, path):
    """Create lazily built weights from the input shapes recorded when the model was built."""
    try:
        xs = tuple(torch.zeros((1, *shape), dtype=getattr(torch, dtype)) for shape, dtype in specs)
        model._build(xs)
    except (LstmkitError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise ModelFileError(f"model: cannot rebuild the model in {path} from its recorded inputs "
                             f"{specs!r} ({e})") from None
