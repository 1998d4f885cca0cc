"""Keras' model files, read and written with zipfile, json and h5py only (never pickle, never code):

- `.keras` (Keras 3): a zip of config.json, metadata.json and model.weights.h5, whose weights sit at
  `layers/<layer class in snake case>[_k]/vars/<i>` (an RNN's under `cell/`, Bidirectional's under
  `forward_layer/` and `backward_layer/`, a nested model's under `layers/`), in Keras' weight order.
- `.weights.h5` (Keras 3's save_weights): that same weights layout as a file of its own.
- legacy `.h5` (tf.keras 2, or Keras 3 writing .h5): a `model_config` attribute, and per layer a
  group under `model_weights` whose `weight_names` attribute lists its arrays in order.

Example:
    >>> from lstmkit.saving import export_keras        # doctest: +SKIP
    >>> export_keras(model, "m.keras")                 # doctest: +SKIP
    >>> keras.saving.load_model("m.keras")             # doctest: +SKIP (in Keras 3)
"""
import datetime
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import LstmkitError, ModelFileError
from . import keras_config
from .keras_config import snake

KERAS_VERSION = "3.0.0"  # the oldest Keras 3 these files are written for


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_keras_file(path) -> bool:
    """A .keras zip or an HDF5 file (a model directory is lstmkit's own format)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return zipfile.is_zipfile(path) or f.read(8) == HDF5_SIGNATURE


def _h5py():
    """h5py, an optional dependency: only Keras' file formats need it."""
    try:
        import h5py
    except ImportError:
        raise LstmkitError("Keras' .keras and .h5 files need h5py: pip install 'lstmkit[keras]'") from None
    return h5py


def load_keras(path, custom_objects=None, compile=True):
    """An lstmkit model from a `.keras` file or a legacy `.h5` file, with the file's weights.

    Raises:
        ModelFileError: the file is damaged, needs code to load (Lambda, custom classes) or uses a
            layer lstmkit does not have.
    """
    h5py = _h5py()
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                config = json.loads(z.read("config.json"))
                weights = z.read("model.weights.h5")
            model = keras_config.model_from_keras(config, custom_objects)
            with h5py.File(io.BytesIO(weights), "r") as f:
                read_weights(model, f)
        else:
            with h5py.File(path, "r") as f:
                if "model_config" not in f.attrs:
                    raise ModelFileError(f"model: {path} is an HDF5 file without a model_config; load "
                                         "weights into a model with model.load_weights")
                raw = f.attrs["model_config"]
                config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
                model = keras_config.model_from_keras(config, custom_objects)
                _read_legacy(model, f["model_weights"] if "model_weights" in f else f)
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"model: {path} is not a readable Keras model file ({e})") from None
    if compile:
        _compile(model, config.get("compile_config"))
    return model


def _compile(model, config):
    """Keras' compile settings where they are plain names (the optimizer by class, the loss by name)."""
    if not isinstance(config, dict) or not isinstance(config.get("loss"), str):
        return
    optimizer = config.get("optimizer")
    name = optimizer.get("class_name", "").lower() if isinstance(optimizer, dict) else optimizer
    metrics = [m for m in config.get("metrics") or [] if isinstance(m, str)]
    try:
        model.compile(optimizer=name or "rmsprop", loss=config["loss"], metrics=metrics)
    except ValueError:  # a setting lstmkit does not name the same way: the model stays uncompiled
        model.compiled = None


KERAS_OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "sgd": "SGD", "adagrad": "Adagrad",
                    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam"}


def _compile_config(model):
    """Keras' compile_config for a model compiled by names (optimizer, loss, metrics), so that Keras and
    lstmkit re-compile the loaded model; None otherwise (the model then loads uncompiled)."""
    spec = getattr(model, "_compile_config", None)
    if not spec or not isinstance(spec.get("optimizer"), str) or spec["optimizer"] not in KERAS_OPTIMIZERS:
        return None
    if not isinstance(spec.get("loss"), str):
        return None
    optimizer = {"module": "keras.optimizers", "class_name": KERAS_OPTIMIZERS[spec["optimizer"]],
                 "config": {"name": spec["optimizer"]}, "registered_name": None}
    return {"optimizer": optimizer, "loss": spec["loss"], "loss_weights": None,
            "metrics": list(spec.get("metrics") or []) or None, "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False}


def export_keras(model, path):
    """Write an lstmkit Sequential or functional model as a `.keras` file that Keras 3 loads.

    Args:
        model: the (built) model; its layers must be lstmkit layers, which Keras has too.
        path: where to write, replaced atomically.

    Returns:
        The path, as a Path.
    """
    config = {**keras_config.model_to_keras(model), "compile_config": _compile_config(model)}
    buf = io.BytesIO()
    with _h5py().File(buf, "w") as f:
        write_weights(model, f)
    meta = {"keras_version": KERAS_VERSION, "lstmkit_version": __version__,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}

    def write(tmp):
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr("metadata.json", json.dumps(meta))
            z.writestr("config.json", json.dumps(config))
            z.writestr("model.weights.h5", buf.getvalue())
    return _atomic(path, write)


def export_h5(model, path):
    """Write a model as a legacy `.h5` file (Keras' `model.save("m.h5")` layout), which Keras loads."""
    config = keras_config.model_to_keras(model)

    def write(tmp):
        with _h5py().File(tmp, "w") as f:
            f.attrs["keras_version"], f.attrs["backend"] = KERAS_VERSION, "torch"
            f.attrs["model_config"] = json.dumps(config)
            g = f.create_group("model_weights")
            entries, seen = [], set()
            for layer, _ in _walk(model):  # a nested model's input layer may share the outer one's name
                arrays = layer.get_weights()
                if arrays or layer.name not in seen:
                    entries.append((layer, arrays))
                    seen.add(layer.name)
            g.attrs["layer_names"] = [layer.name.encode() for layer, _ in entries]
            for layer, arrays in entries:
                names = [f"{layer.name}/{k}".encode() for k in range(len(arrays))]
                g.create_group(layer.name).attrs["weight_names"] = names or np.zeros(0)  # as Keras writes none
                for name, array in zip(names, arrays):
                    g[layer.name].create_dataset(name.decode(), data=array)
    return _atomic(path, write)


def save_weights_h5(model, path):
    """Write the weights in Keras 3's `.weights.h5` layout (Keras' load_weights reads it)."""
    def write(tmp):
        with _h5py().File(tmp, "w") as f:
            write_weights(model, f)
    return _atomic(path, write)


def load_weights_h5(model, path):
    """Load a `.weights.h5` file (Keras 3's layout, or tf.keras 2's legacy one) into `model`."""
    try:
        with _h5py().File(path, "r") as f:
            if "layer_names" in f.attrs or "model_weights" in f:
                _read_legacy(model, f["model_weights"] if "model_weights" in f else f)
            else:
                read_weights(model, f)
    except (OSError, KeyError) as e:
        raise ModelFileError(f"load_weights: {path} is missing, damaged or not a Keras weights file ({e})") from None


def _atomic(path, write):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ---- Keras 3's weights layout ----------------------------------------------------------------

def _walk(model, prefix="layers"):
    """(layer, h5 path) for every layer with its own weights, named as Keras names them: the
    class in snake case, with _1, _2, ... for repeats, in the order of `model.layers`."""
    used = {}
    for layer in model.layers:
        base = snake(type(layer).__name__)
        used[base] = used.get(base, -1) + 1
        path = f"{prefix}/{base}" + (f"_{used[base]}" if used[base] else "")
        if hasattr(layer, "layers") and not hasattr(layer, "weight_layout"):  # a nested model
            yield from _walk(layer, f"{path}/layers")
        else:
            yield layer, path


def _slots(layer, path, n):
    """The h5 group of each of the layer's n weights, in `get_weights` order."""
    kind = type(layer).__name__
    if kind == "Bidirectional":
        half = n // 2
        return (_slots(layer.forward_layer, f"{path}/forward_layer", half)
                + _slots(layer.backward_layer, f"{path}/backward_layer", n - half))
    if kind == "TimeDistributed":
        return _slots(layer.layer, f"{path}/layer", n)
    if kind in keras_config.RNN_LAYERS:
        return [f"{path}/cell/vars"] * n
    return [f"{path}/vars"] * n


def _indexed(slots):
    seen = {}
    for group in slots:
        seen[group] = seen.get(group, -1) + 1
        yield f"{group}/{seen[group]}"


def read_weights(model, f):
    for layer, path in _walk(model):
        n = len(layer.get_weights())
        names = list(_indexed(_slots(layer, path, n)))
        missing = [name for name in names if name not in f]
        if missing:
            raise ModelFileError(f"model: the weights file has no {missing[0]} for layer {layer.name!r}")
        layer.set_weights([np.asarray(f[name]) for name in names])


def write_weights(model, f):
    f.create_group("vars").attrs["name"] = model.name
    for layer, path in _walk(model):
        f.require_group(f"{path}/vars").attrs["name"] = layer.name
        arrays = layer.get_weights()
        for name, array in zip(_indexed(_slots(layer, path, len(arrays))), arrays):
            f.require_group(name.rsplit("/", 1)[0])
            f.create_dataset(name, data=array)


# ---- tf.keras 2's legacy layout --------------------------------------------------------------

def _read_legacy(model, group):
    layers = {layer.name: layer for layer, _ in _walk(model)}
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("layer_names", [])]
    for name in names:
        g = group[name]
        weight_names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
        if not weight_names:
            continue
        if name not in layers:
            raise ModelFileError(f"model: the weights file has layer {name!r}, which the model lacks")
        layers[name].set_weights([np.asarray(g[w]) for w in weight_names])
